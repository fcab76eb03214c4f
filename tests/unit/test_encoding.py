"""Which encoding a DBF's text is read in: --encoding, the .cpg, the language driver id, then
the bytes themselves; whatever is decided must decode every text byte, and text read with a
Latin code page must not look like mis-read GBK."""

from __future__ import annotations

import pytest
from dbf_files import owners_dbf, write_dbf

from landmap.geo.encoding import (
    Decision,
    EncodingError,
    check_not_mojibake,
    codec_name,
    dbf_text_chunks,
    decide,
)

OWNERS = ["阳湖坪村村民委员会", "覃明华", "向德贵"]
# outside GBK, inside GB18030: 䶮 (two bytes in GB18030-2005) and 𠮷 (four bytes)
RARE = ["刘䶮", "𠮷野家", "覃明华"]


@pytest.fixture
def gbk(tmp_path):
    return owners_dbf(tmp_path / "gbk.dbf", OWNERS, "gbk")


@pytest.fixture
def utf8(tmp_path):
    return owners_dbf(tmp_path / "utf8.dbf", OWNERS, "utf-8")


@pytest.fixture
def rare(tmp_path):
    return owners_dbf(tmp_path / "rare.dbf", RARE, "gb18030")


@pytest.mark.parametrize(
    ("name", "codec"),
    [
        ("936", "gbk"),
        ("CP936", "gbk"),
        (" GBK\r\n", "gbk"),
        ("GB2312", "gbk"),
        ("GB18030", "gb18030"),
        ("UTF-8", "utf-8"),
        ("utf8", "utf-8"),
        ("65001", "utf-8"),
        ("88591", "iso8859-1"),
        ("ISO-8859-1", "iso8859-1"),
        ("1252", "cp1252"),
        ("ANSI 1252", "cp1252"),
        ("950", "big5"),
        ("437", "cp437"),
        ("850", "cp850"),
        ("latin1", "iso8859-1"),
        ("euc-kr", "euc_kr"),
    ],
)
def test_encoding_names_from_cpg_files_and_users(name, codec):
    assert codec_name(name) == codec


def test_an_unknown_encoding_name_is_refused():
    with pytest.raises(EncodingError, match="unknown text encoding 'klingon'") as info:
        codec_name("klingon")
    assert info.value.code == "encoding_unknown"
    assert info.value.render("zh_CN") == "未知的文字编码 'klingon'：请选择 GBK、GB18030 或 UTF-8"


def test_a_form_offers_the_chinese_encodings_and_refuses_others():
    from landmap.geo.encoding import parse_choice

    assert parse_choice("GBK") == "gbk" and parse_choice("utf8") == "utf-8"
    assert parse_choice("gb18030") == "gb18030"
    with pytest.raises(EncodingError) as info:
        parse_choice("latin-1")
    assert info.value.code == "encoding_not_offered"
    assert "文字编码只能是 GBK、GB18030、UTF-8、Big5 之一" in info.value.render("zh_CN")


# --- the order of the decision --------------------------------------------------------------


def test_the_users_encoding_comes_first(gbk):
    assert decide(gbk, "UTF-8", "GBK") == Decision("gbk", "chosen by the user")


def test_then_the_cpg(gbk):
    assert decide(gbk, "936\n", None) == Decision("gbk", ".cpg file says '936'")
    assert decide(gbk, "  ", None).value == "gb18030"  # a blank .cpg says nothing


def test_then_the_language_driver_id(tmp_path):
    dbf = owners_dbf(tmp_path / "x.dbf", OWNERS, "gbk", ldid=0x4D)
    assert decide(dbf, None, None) == Decision("gbk", "DBF language driver id 0x4D")
    big5 = owners_dbf(tmp_path / "b.dbf", ["陳大文"], "big5", ldid=0x78)
    assert decide(big5, None, None) == Decision("big5", "DBF language driver id 0x78")


def test_an_ansi_language_id_says_nothing_and_the_bytes_decide(tmp_path):
    dbf = owners_dbf(tmp_path / "x.dbf", OWNERS, "gbk", ldid=0x57)
    assert decide(dbf, None, None).value == "gb18030"


def test_then_the_bytes(tmp_path, gbk, utf8, rare):
    ascii_ = owners_dbf(tmp_path / "a.dbf", ["Village committee"], "ascii")
    assert decide(ascii_, None, None) == Decision("utf-8", "all text is ASCII")
    assert decide(utf8, None, None) == Decision(
        "utf-8", "no .cpg or language id; every text field is valid UTF-8"
    )
    assert decide(gbk, None, None) == Decision(
        "gb18030", "no .cpg or language id; the text is not UTF-8 but is GB18030"
    )
    assert decide(rare, None, None).value == "gb18030"


def test_without_a_dbf_there_is_nothing_to_decode():
    assert decide(None, None, None) == Decision("utf-8", "no .dbf: nothing to decode")
    assert decide(None, "GBK", None).value == "gbk"


def test_bytes_that_are_neither_utf8_nor_gb18030_need_the_users_word(tmp_path):
    dbf = write_dbf(tmp_path / "x.dbf", [("QLRMC", "C", 8)], [[b"\xff\xfe\xff"]])
    with pytest.raises(EncodingError) as info:
        decide(dbf, None, None)
    assert str(info.value) == (
        "cannot tell the text encoding: no .cpg, no language driver id, and the text is neither "
        "UTF-8 nor GB18030: choose its text encoding (for example GBK)"
    )
    assert "请选择其文字编码" in info.value.render("zh_CN")
    with pytest.raises(EncodingError) as info:  # declared, wrong, and no other fits either
        decide(dbf, "UTF-8", None)
    assert str(info.value) == (
        "the text is not valid utf-8 (.cpg file says 'UTF-8'): choose the file's real text encoding"
    )
    assert decide(dbf, None, "latin-1").value == "iso8859-1"


def test_a_file_too_short_for_a_header_is_not_guessed_at(tmp_path):
    short = tmp_path / "x.dbf"
    short.write_bytes(b"\x03\x7e\x0b")
    with pytest.raises(EncodingError, match="not a dBASE file"):
        decide(short, None, None)


def test_a_record_longer_than_32_kb_is_read_whole(tmp_path):
    fields = [(f"F{i}", "C", 255) for i in range(130)]  # 33 150 bytes a record
    cells = [b"a" * 255] * 129 + ["覃明华".encode("gbk")]
    dbf = write_dbf(tmp_path / "x.dbf", fields, [cells, cells])
    assert decide(dbf, None, None).value == "gb18030"
    with pytest.raises(EncodingError, match="reads cleanly as GB18030"):
        decide(dbf, "UTF-8", None)


# --- every byte must decode in what was decided ----------------------------------------------


def test_a_cpg_saying_utf8_over_gbk_bytes_is_refused_naming_the_real_encoding(gbk):
    with pytest.raises(EncodingError) as info:
        decide(gbk, "UTF-8", None)
    assert str(info.value) == (
        "the text is not valid utf-8 (.cpg file says 'UTF-8'); it reads cleanly as GB18030: "
        "choose the file's real text encoding"
    )
    assert info.value.render("zh_CN") == (
        "文字不是有效的 utf-8（.cpg 文件注明为 'UTF-8'）；按 GB18030 读取则没有错误："
        "请选择文件实际使用的文字编码"
    )


def test_a_cpg_saying_gbk_over_gb18030_only_characters_is_refused(rare):
    """GBK is a subset of GB18030: a name written with a character GBK lacks (䶮, 𠮷) must not
    be read as GBK, where it would come out garbled."""
    with pytest.raises(EncodingError, match=r"not valid gbk .*reads cleanly as GB18030"):
        decide(rare, "GBK", None)
    with pytest.raises(EncodingError, match="not valid gbk"):
        decide(rare, "936", None)
    assert decide(rare, "GB18030", None).value == "gb18030"
    assert decide(rare, None, "gb18030").value == "gb18030"


def test_the_users_encoding_is_checked_too(gbk):
    with pytest.raises(EncodingError, match=r"not valid utf-8 \(chosen by the user\)"):
        decide(gbk, None, "utf-8")


def test_a_language_id_that_does_not_fit_the_bytes_is_refused(tmp_path):
    dbf = owners_dbf(tmp_path / "x.dbf", OWNERS, "utf-8", ldid=0x4D)
    with pytest.raises(EncodingError, match="reads cleanly as UTF-8"):
        decide(dbf, None, None)


def test_a_bad_byte_in_the_last_record_is_found(tmp_path):
    owners = ["Village"] * 999 + ["覃明华"]
    dbf = owners_dbf(tmp_path / "x.dbf", owners, "gbk")
    with pytest.raises(EncodingError, match="not valid utf-8"):
        decide(dbf, "UTF-8", None)


def test_numeric_fields_are_not_text(tmp_path):
    dbf = write_dbf(
        tmp_path / "x.dbf", [("CODE", "C", 4), ("AREA", "N", 4)], [[b"ab", b"\xff\xff"]]
    )
    assert decide(dbf, "UTF-8", None).value == "utf-8"


# --- reading the text bytes ------------------------------------------------------------------


def test_text_chunks_hold_every_character_cell_separated_by_a_space(tmp_path):
    dbf = write_dbf(
        tmp_path / "x.dbf",
        [("A", "C", 3), ("N", "N", 2), ("B", "C", 2)],
        [[b"ab", b"12", b"c"], [b"xyz", b"34", b"de"]],
    )
    assert b"".join(dbf_text_chunks(dbf)) == b"ab  c  xyz de "
    assert b"".join(dbf_text_chunks(dbf, limit_records=1)) == b"ab  c  "


def test_a_table_without_text_fields_has_no_text(tmp_path):
    dbf = write_dbf(tmp_path / "x.dbf", [("N", "N", 2)], [[b"12"]])
    assert list(dbf_text_chunks(dbf)) == []


def test_a_file_too_short_to_be_a_dbf(tmp_path):
    short = tmp_path / "x.dbf"
    short.write_bytes(b"\x03abc")
    with pytest.raises(EncodingError, match="not a dBASE file"):
        list(dbf_text_chunks(short))


def test_a_dbf_with_fewer_records_than_its_header_says(tmp_path):
    dbf = owners_dbf(tmp_path / "x.dbf", OWNERS, "gbk")
    data = dbf.read_bytes()
    dbf.write_bytes(data[: len(data) - 1 - 2 * (1 + 19 + 60 + 12)])  # two records cut off
    assert len(b"".join(dbf_text_chunks(dbf))) == 19 + 1 + 60 + 1


# --- mojibake ---------------------------------------------------------------------------------


def test_gbk_read_as_latin_is_refused_with_a_hint(gbk):
    garbled = [o.encode("gbk").decode("latin-1") for o in OWNERS]
    with pytest.raises(EncodingError) as info:
        check_not_mojibake(Decision("iso8859-1", "chosen by the user"), garbled, gbk)
    message = str(info.value)
    assert message.startswith("text decoded as iso8859-1 (chosen by the user) looks garbled")
    assert "the bytes read cleanly as GB18030" in message and "choose its text encoding" in message
    assert "--" not in info.value.render("zh_CN") and "乱码" in info.value.render("zh_CN")


def test_mojibake_is_refused_without_a_dbf_to_hint_from():
    with pytest.raises(EncodingError) as info:
        check_not_mojibake(Decision("cp1252", ".cpg"), ["", "Müller", "ÏòµÂ¹ó"], None)
    assert str(info.value) == (
        "text decoded as cp1252 (.cpg) looks garbled, e.g. 'ÏòµÂ¹ó': choose its text encoding "
        "(GBK, or the file's real encoding)"
    )
    with pytest.raises(EncodingError):  # a C1 control character alone
        check_not_mojibake(Decision("iso8859-1", "x"), ["a\x85b"], None)


def test_latin_text_and_multibyte_decisions_pass():
    check_not_mojibake(Decision("cp1252", ".cpg"), ["Café", "Ärger", "", "Zoë"], None)
    check_not_mojibake(Decision("utf-8", "x"), ["ÃÃÃ"], None)  # only single-byte is checked
    check_not_mojibake(Decision("gbk", "x"), ["ÃÃÃ"], None)
