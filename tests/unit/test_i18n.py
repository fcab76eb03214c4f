"""The Chinese catalogue covers every UI string and the committed .mo matches the .po."""

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from landmap.config import PROJECT_ROOT

TR = PROJECT_ROOT / "landmap" / "translations"
PO = TR / "zh" / "LC_MESSAGES" / "messages.po"
MO = TR / "zh" / "LC_MESSAGES" / "messages.mo"


def ui_strings() -> set[str]:
    with open(TR / "babel.cfg") as f:
        method_map, options_map = parse_mapping_cfg(f)
    found = set()
    keywords = {**DEFAULT_KEYWORDS, "msg": (2,), "term": None}  # as scripts/i18n.py
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        PROJECT_ROOT, method_map, options_map, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_ui_string_has_a_chinese_translation():
    with PO.open("rb") as f:
        catalog = read_po(f)
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    missing = ui_strings() - translated
    assert not missing, f"translate these in {PO} (scripts/i18n.py update): {sorted(missing)}"


def test_compiled_catalogue_is_up_to_date():
    with PO.open("rb") as f:
        po = {m.id: m.string for m in read_po(f) if m.id}
    with MO.open("rb") as f:
        mo = {m.id: m.string for m in read_mo(f) if m.id}
    assert po == mo, "run scripts/i18n.py compile"
