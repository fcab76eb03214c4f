"""The land register's vocabulary: enums with their Chinese and English labels, the zone's
today, and the refusal every rule raises.

Used by the database models (CHECK constraints), services, loaders, map styling and the API.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from zoneinfo import ZoneInfo

from landmap.messages import Message, msg, term

CHINA = ZoneInfo("Asia/Shanghai")


def today() -> dt.date:
    """The date in the zone (China time): the one today of the register. Nothing is recorded
    as happening after it; a boundary loaded without a date is in force from it."""
    return dt.datetime.now(CHINA).date()


class Refused(ValueError):
    """A request the rules refuse: ``message`` (a ``landmap.messages.Message``: a stable
    ``code`` and a translatable text) says why, ``status`` is the HTTP status the web answers
    with, ``extra`` goes into the JSON answer beside it (Messages in it rendered too). Nothing
    was changed. Every refusal a user can get derives from it (also as
    ``landmap.services.Refused``): the web answers each in the request's locale, the CLI in
    its own; ``str()`` is the English text."""

    status = 400

    def __init__(self, message: Message | str, status: int | None = None, **extra) -> None:
        if not isinstance(message, Message):  # tests/unit/test_messages.py: landmap/ uses msg()
            message = Message("refused", message)
        super().__init__(message.render("en"))
        self.message = message
        if status is not None:
            self.status = status
        self.extra = extra

    @property
    def code(self) -> str:
        return self.message.code

    def render(self, locale: str) -> str:
        return self.message.render(locale)


# The earliest day anything in the register can have happened (the founding of the People's
# Republic, 1949-10-01): events, as-of days and report periods lie from it to today.
EARLIEST_DATE = dt.date(1949, 10, 1)

_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def iso_day(value: object) -> dt.date:
    """A date written YYYY-MM-DD, as a string and nothing else; ValueError otherwise."""
    if not isinstance(value, str) or not _ISO_DAY.fullmatch(value):
        raise ValueError(value)
    return dt.date.fromisoformat(value)


# The most mu one figure in a request may hold (an amount, a target): far more than any zone.
MAX_MU = 1_000_000


class LabelledEnum(StrEnum):
    """A StrEnum whose members carry (zh, en) labels in ``_labels``."""

    @property
    def label_zh(self) -> str:
        return type(self)._labels()[self][0]

    @property
    def label_en(self) -> str:
        return type(self)._labels()[self][1]

    def label(self, locale: str) -> str:
        return self.label_en if locale.startswith("en") else self.label_zh

    @classmethod
    def parse(cls, text: str):
        """A member from its id or its Chinese or English label; a Refused (a ValueError)
        names the choices by their labels."""
        key = text.strip()
        for member in cls:
            if key in (member.value, member.label_zh) or key.lower() == member.label_en.lower():
                return member
        what = _NOUNS.get(cls.__name__) or term("value")  # no call inside msg(): Babel
        raise Refused(
            msg(
                "unknown_choice",
                "unknown %(what)s %(given)s; one of: %(choices)s",
                what=what,
                given=repr(text[:40]),
                choices=list(cls),
            )
        )

    @classmethod
    def _labels(cls) -> dict:  # pragma: no cover - overridden
        raise NotImplementedError


# What a member of each enum is called in messages (translated through the catalogue).
_NOUNS = {
    "Stage": term("stage"),
    "ProjectKind": term("project kind"),
    "ProjectStage": term("project stage"),
    "TransferStatus": term("transfer status"),
    "Role": term("role"),
    "QuotaSource": term("quota source"),
    "QuotaKind": term("quota entry kind"),
    "SupplyMethod": term("supply method"),
    "TransferWay": term("transfer way"),
    "ConstructionEvent": term("construction event"),
    "CompensationKind": term("compensation item kind"),
    "LandClass": term("land class"),
    "HouseStructure": term("house structure"),
    "Resettlement": term("resettlement"),
    "HouseholdStatus": term("payment status"),
    "Unit": term("unit"),
}


class Stage(LabelledEnum):
    """Land acquisition and demolition (征地拆迁) stage of a parcel, in workflow order.

    STATE_OWNED is outside the workflow: state land already in hand needs no acquisition.
    """

    STATE_OWNED = "state_owned"  # 国有已收储
    NOT_STARTED = "not_started"  # 未启动
    PRE_ANNOUNCED = "pre_announced"  # 征收预公告
    SURVEYED = "surveyed"  # 调查登记/丈量
    PLAN_PUBLISHED = "plan_published"  # 补偿安置方案公告
    AGREEMENT_SIGNED = "agreement_signed"  # 协议签订
    COMPENSATED = "compensated"  # 补偿兑付
    DEMOLISHED = "demolished"  # 房屋拆除
    CLEARED = "cleared"  # 场地平整/交地 ("整理到位")

    @classmethod
    def _labels(cls) -> dict:
        return _STAGE_LABELS

    @classmethod
    def workflow(cls) -> list[Stage]:
        """The acquisition stages in order, without STATE_OWNED."""
        return [s for s in cls if s is not cls.STATE_OWNED]


# the stages that follow the money (services.compensation): from 协议签订 on, every household
# of the parcel has an agreement; from 补偿兑付 on, each is paid in full. The database's guard
# (lm_households_blocking, migration 0024) keeps the same lists; a test checks they agree.
NEEDS_AGREEMENT = frozenset(
    {Stage.AGREEMENT_SIGNED, Stage.COMPENSATED, Stage.DEMOLISHED, Stage.CLEARED}
)
NEEDS_PAYMENT = frozenset({Stage.COMPENSATED, Stage.DEMOLISHED, Stage.CLEARED})

# land that meets supply conditions (具备供地条件): acquired and 整理到位, or state land in hand.
# The one rule: supply (services.supply), the evaluation and the demo.
READY_FOR_SUPPLY = frozenset({Stage.CLEARED, Stage.STATE_OWNED})

_STAGE_LABELS = {
    Stage.STATE_OWNED: ("国有已收储", "State land in hand"),
    Stage.NOT_STARTED: ("未启动", "Not started"),
    Stage.PRE_ANNOUNCED: ("征收预公告", "Pre-announced"),
    Stage.SURVEYED: ("调查登记", "Surveyed and registered"),
    Stage.PLAN_PUBLISHED: ("补偿方案公告", "Compensation plan published"),
    Stage.AGREEMENT_SIGNED: ("协议签订", "Agreement signed"),
    Stage.COMPENSATED: ("补偿兑付", "Compensation paid"),
    Stage.DEMOLISHED: ("房屋拆除", "Houses demolished"),
    Stage.CLEARED: ("整理到位", "Cleared and handed over"),
}


class ProjectKind(LabelledEnum):
    INDUSTRIAL = "industrial"  # 工业
    COMMERCIAL = "commercial"  # 商业
    HOUSING = "housing"  # 住房
    INFRASTRUCTURE = "infrastructure"  # 基础设施
    PUBLIC = "public"  # 公共服务

    @classmethod
    def _labels(cls) -> dict:
        return _KIND_LABELS


_KIND_LABELS = {
    ProjectKind.INDUSTRIAL: ("工业", "Industrial"),
    ProjectKind.COMMERCIAL: ("商业", "Commercial"),
    ProjectKind.HOUSING: ("住房", "Housing"),
    ProjectKind.INFRASTRUCTURE: ("基础设施", "Infrastructure"),
    ProjectKind.PUBLIC: ("公共服务", "Public"),
}


class ProjectStage(LabelledEnum):
    """Where a project stands (the seed's 争开工、保投产、抓搬迁、促前期)."""

    PRE_STAGE = "pre_stage"  # 前期
    TO_START = "to_start"  # 开工 (to start construction)
    UNDER_CONSTRUCTION = "under_construction"  # 在建
    COMMISSIONED = "commissioned"  # 投产
    RELOCATING = "relocating"  # 搬迁

    @classmethod
    def _labels(cls) -> dict:
        return _PROJECT_STAGE_LABELS


_PROJECT_STAGE_LABELS = {
    ProjectStage.PRE_STAGE: ("前期", "Pre-stage"),
    ProjectStage.TO_START: ("待开工", "To start"),
    ProjectStage.UNDER_CONSTRUCTION: ("在建", "Under construction"),
    ProjectStage.COMMISSIONED: ("投产", "Commissioned"),
    ProjectStage.RELOCATING: ("搬迁", "Relocating"),
}


class BoundaryStatus(StrEnum):
    """A zone boundary version: the one in force, one replaced, or a planner's draft."""

    CURRENT = "current"  # 现行
    SUPERSEDED = "superseded"  # 历史
    DRAFT = "draft"  # 调整草案


# A ZDDM whose feature code marks state land (first letter G, e.g. 430802003004GB00001)
STATE_LAND_CODE = r"^.{12}G.{6}$"


def initial_stage(code: str) -> Stage:
    """Where a newly registered parcel starts: state land (STATE_LAND_CODE) needs no
    acquisition; anything else does."""
    return Stage.STATE_OWNED if re.match(STATE_LAND_CODE, code) else Stage.NOT_STARTED


class TransferStatus(LabelledEnum):
    """Where a commercial plot stands in its sale (经营性用地出让)."""

    PLANNED = "planned"  # 拟出让
    LISTED = "listed"  # 挂牌中
    TRANSFERRED = "transferred"  # 已出让

    @classmethod
    def _labels(cls) -> dict:
        return _TRANSFER_LABELS


_TRANSFER_LABELS = {
    TransferStatus.PLANNED: ("拟出让", "Planned"),
    TransferStatus.LISTED: ("挂牌中", "Listed"),
    TransferStatus.TRANSFERRED: ("已出让", "Transferred"),
}


class Role(LabelledEnum):
    """Who may do what (checked on the server for every route, see PERMISSIONS)."""

    VIEWER = "viewer"  # 浏览
    OFFICER = "officer"  # 征拆专员: acquisition stages, parcel attributes
    PLANNER = "planner"  # 规划人员: zone drafts
    ADMIN = "admin"  # 管理员: quota ledger, imports, approvals, users, audit

    @classmethod
    def _labels(cls) -> dict:
        return _ROLE_LABELS

    def can(self, permission: str) -> bool:
        return self in PERMISSIONS[permission]


_ROLE_LABELS = {
    Role.VIEWER: ("浏览", "Viewer"),
    Role.OFFICER: ("征拆专员", "Land officer"),
    Role.PLANNER: ("规划人员", "Planner"),
    Role.ADMIN: ("管理员", "Administrator"),
}

# permission -> the roles that have it: the one place access is decided
PERMISSIONS: dict[str, frozenset[Role]] = {
    "view": frozenset(Role),
    "acquisition": frozenset({Role.OFFICER, Role.ADMIN}),
    "parcels": frozenset({Role.OFFICER, Role.ADMIN}),  # attributes, assignments to projects
    "register": frozenset({Role.PLANNER, Role.ADMIN}),  # projects, batches, enterprises
    "reshape": frozenset({Role.ADMIN}),  # splits, merges, geometry corrections
    "drafts": frozenset({Role.PLANNER, Role.ADMIN}),
    "approve": frozenset({Role.ADMIN}),
    "quota": frozenset({Role.ADMIN}),
    "import": frozenset({Role.ADMIN}),
    "users": frozenset({Role.ADMIN}),
    "audit": frozenset({Role.ADMIN}),
    "backups": frozenset({Role.ADMIN}),  # the backups page
    "supply": frozenset({Role.OFFICER, Role.ADMIN}),  # supply, construction, buildings
    "statistics": frozenset({Role.OFFICER, Role.ADMIN}),  # enterprises' monthly figures
    "classes": frozenset({Role.ADMIN}),  # the 亩均效益 class thresholds
    # households, agreements, payments, and reading ID and phone numbers unmasked
    "compensation": frozenset({Role.OFFICER, Role.ADMIN}),
    "standards": frozenset({Role.ADMIN}),  # issuing compensation standards
}


class SupplyMethod(LabelledEnum):
    """How land is supplied (供地方式)."""

    TRANSFER = "transfer"  # 出让
    ALLOCATION = "allocation"  # 划拨

    @classmethod
    def _labels(cls) -> dict:
        return {cls.TRANSFER: ("出让", "Transfer"), cls.ALLOCATION: ("划拨", "Allocation")}


class TransferWay(LabelledEnum):
    """How a transfer (出让) was made: 招拍挂 or agreement."""

    TENDER = "tender"  # 招标
    AUCTION = "auction"  # 拍卖
    LISTING = "listing"  # 挂牌
    AGREEMENT = "agreement"  # 协议

    @classmethod
    def _labels(cls) -> dict:
        return {
            cls.TENDER: ("招标", "Tender"),
            cls.AUCTION: ("拍卖", "Auction"),
            cls.LISTING: ("挂牌", "Listing"),
            cls.AGREEMENT: ("协议", "Agreement"),
        }


class ConstructionEvent(LabelledEnum):
    """What happens on supplied land (项目建设), in the order it usually happens."""

    STARTED = "started"  # 动工
    STOPPED = "stopped"  # 停工/中止 (with its reason)
    RESUMED = "resumed"  # 复工
    COMPLETED = "completed"  # 竣工
    COMMISSIONED = "commissioned"  # 投产

    @classmethod
    def _labels(cls) -> dict:
        return {
            cls.STARTED: ("动工", "Started"),
            cls.STOPPED: ("停工", "Stopped"),
            cls.RESUMED: ("复工", "Resumed"),
            cls.COMPLETED: ("竣工", "Completed"),
            cls.COMMISSIONED: ("投产", "In production"),
        }


class QuotaSource(LabelledEnum):
    """Where land-use quota (用地指标) comes from."""

    PLAN = "plan"  # 年度计划指标
    LINKAGE = "linkage"  # 增减挂钩节余
    OTHER = "other"  # 其他

    @classmethod
    def _labels(cls) -> dict:
        return _QUOTA_SOURCE_LABELS


_QUOTA_SOURCE_LABELS = {
    QuotaSource.PLAN: ("年度计划指标", "Annual plan quota"),
    QuotaSource.LINKAGE: ("增减挂钩节余", "Linkage savings"),
    QuotaSource.OTHER: ("其他", "Other"),
}


class QuotaKind(LabelledEnum):
    """What a quota ledger entry does (see landmap.services.quota)."""

    GRANT = "grant"  # 下达
    RESERVE = "reserve"  # 预留
    CONSUME = "consume"  # 报批使用
    RELEASE = "release"  # 释放
    CORRECT = "correct"  # 冲正

    @classmethod
    def _labels(cls) -> dict:
        return _QUOTA_KIND_LABELS


_QUOTA_KIND_LABELS = {
    QuotaKind.GRANT: ("下达", "Grant"),
    QuotaKind.RESERVE: ("预留", "Reserve"),
    QuotaKind.CONSUME: ("报批使用", "Consume"),
    QuotaKind.RELEASE: ("释放", "Release"),
    QuotaKind.CORRECT: ("冲正", "Correction"),
}


# --- compensation and resettlement (补偿安置) ------------------------------------------------


class CompensationKind(LabelledEnum):
    """What a rate of a compensation standard is for, each with its one unit (UNIT)."""

    LAND = "land"  # 土地补偿 (元/亩, by land class)
    CROPS = "crops"  # 青苗补偿 (元/亩, by land class)
    SOCIAL_SECURITY = "social_security"  # 被征地农民社会保障 (元/亩 of agricultural land)
    HOUSE = "house"  # 房屋补偿 (元/m², by structure)
    ATTACHMENT = "attachment"  # 附着物 (元 per item: trees, wells, graves)
    RELOCATION = "relocation"  # 搬迁补助 (元/户)
    TRANSITION = "transition"  # 过渡安置费 (元/人·月, for a stated number of months)
    EARLY_AWARD = "early_award"  # 提前签约奖励 (元/户, signing by a day)

    @classmethod
    def _labels(cls) -> dict:
        return _COMPENSATION_KIND_LABELS

    @property
    def unit(self) -> str:
        return _UNITS[self]


_COMPENSATION_KIND_LABELS = {
    CompensationKind.LAND: ("土地补偿", "Land"),
    CompensationKind.CROPS: ("青苗补偿", "Young crops"),
    CompensationKind.SOCIAL_SECURITY: ("被征地农民社会保障", "Social security"),
    CompensationKind.HOUSE: ("房屋补偿", "House"),
    CompensationKind.ATTACHMENT: ("附着物补偿", "Attachment"),
    CompensationKind.RELOCATION: ("搬迁补助", "Relocation subsidy"),
    CompensationKind.TRANSITION: ("过渡安置费", "Transitional resettlement"),
    CompensationKind.EARLY_AWARD: ("提前签约奖励", "Early signing award"),
}
_UNITS = {
    CompensationKind.LAND: "mu",
    CompensationKind.CROPS: "mu",
    CompensationKind.SOCIAL_SECURITY: "mu",
    CompensationKind.HOUSE: "m2",
    CompensationKind.ATTACHMENT: "item",
    CompensationKind.RELOCATION: "household",
    CompensationKind.TRANSITION: "person_month",
    CompensationKind.EARLY_AWARD: "household",
}


class Unit(LabelledEnum):
    """What a rate is per, written as after a rate: 元/亩 ..."""

    MU = "mu"
    M2 = "m2"
    ITEM = "item"
    HOUSEHOLD = "household"
    PERSON_MONTH = "person_month"

    @classmethod
    def _labels(cls) -> dict:
        return {
            cls.MU: ("元/亩", "yuan/mu"),
            cls.M2: ("元/m²", "yuan/m²"),
            cls.ITEM: ("元/个", "yuan/item"),
            cls.HOUSEHOLD: ("元/户", "yuan/household"),
            cls.PERSON_MONTH: ("元/人·月", "yuan/person-month"),
        }


class LandClass(LabelledEnum):
    """The land classes of a compensation standard (GB/T 21010 codes: landuse.land_class)."""

    CULTIVATED = "cultivated"  # 耕地
    GARDEN = "garden"  # 园地
    FOREST = "forest"  # 林地
    OTHER_AGRICULTURAL = "other_agricultural"  # 其他农用地 (草地, 坑塘, 农村道路 ...)
    CONSTRUCTION = "construction"  # 建设用地
    UNUSED = "unused"  # 未利用地

    @classmethod
    def _labels(cls) -> dict:
        return _LAND_CLASS_LABELS

    @property
    def agricultural(self) -> bool:
        return self not in (LandClass.CONSTRUCTION, LandClass.UNUSED)


_LAND_CLASS_LABELS = {
    LandClass.CULTIVATED: ("耕地", "Cultivated land"),
    LandClass.GARDEN: ("园地", "Garden land"),
    LandClass.FOREST: ("林地", "Forest land"),
    LandClass.OTHER_AGRICULTURAL: ("其他农用地", "Other agricultural land"),
    LandClass.CONSTRUCTION: ("建设用地", "Construction land"),
    LandClass.UNUSED: ("未利用地", "Unused land"),
}


class HouseStructure(LabelledEnum):
    FRAME = "frame"  # 框架
    BRICK_CONCRETE = "brick_concrete"  # 砖混
    BRICK_WOOD = "brick_wood"  # 砖木
    EARTH_WOOD = "earth_wood"  # 土木
    SIMPLE = "simple"  # 简易

    @classmethod
    def _labels(cls) -> dict:
        return {
            cls.FRAME: ("框架", "Frame"),
            cls.BRICK_CONCRETE: ("砖混", "Brick and concrete"),
            cls.BRICK_WOOD: ("砖木", "Brick and wood"),
            cls.EARTH_WOOD: ("土木", "Earth and wood"),
            cls.SIMPLE: ("简易", "Simple"),
        }


class Resettlement(LabelledEnum):
    MONEY = "money"  # 货币安置
    FLAT = "flat"  # 产权调换

    @classmethod
    def _labels(cls) -> dict:
        return {cls.MONEY: ("货币安置", "Money"), cls.FLAT: ("产权调换", "Flat exchange")}


class HouseholdStatus(LabelledEnum):
    """Where a household stands with its money (the database's household_status view)."""

    UNSIGNED = "unsigned"  # 未签约
    SIGNED = "signed"  # 已签约
    PART_PAID = "part_paid"  # 部分兑付
    PAID = "paid"  # 已兑付

    @classmethod
    def _labels(cls) -> dict:
        return {
            cls.UNSIGNED: ("未签约", "Not signed"),
            cls.SIGNED: ("已签约", "Signed"),
            cls.PART_PAID: ("部分兑付", "Part paid"),
            cls.PAID: ("已兑付", "Paid"),
        }

    @property
    def colour(self) -> str:
        """The 补偿 map theme's colour (the one place; the browser is told)."""
        return {
            HouseholdStatus.UNSIGNED: "#d73027",
            HouseholdStatus.SIGNED: "#fc8d59",
            HouseholdStatus.PART_PAID: "#fee08b",
            HouseholdStatus.PAID: "#1a9850",
        }[self]
