"""The console's two languages: every string the interface uses exists in English and Vietnamese."""

from __future__ import annotations

import re

from gateway.console.assets import ASSETS

_TABLE = re.compile(r"^  (en|vi): \{\n(.*?)^  \},", re.MULTILINE | re.DOTALL)
_ENTRY = re.compile(r'^\s+"([\w.-]+)": "((?:[^"\\]|\\.)*)",$', re.MULTILINE)
_USED = re.compile(r"""\bt\(["']([\w.-]+)["']""")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def tables() -> dict[str, dict[str, str]]:
    source = ASSETS.get("js/strings.js").content.decode()  # type: ignore[union-attr]
    found = {language: dict(_ENTRY.findall(body)) for language, body in _TABLE.findall(source)}
    assert set(found) == {"en", "vi"}
    return found


def test_both_languages_have_the_same_strings_with_the_same_placeholders() -> None:
    english, vietnamese = tables()["en"], tables()["vi"]
    assert len(english) > 300
    assert set(english) == set(vietnamese)
    for key, text in english.items():
        assert set(_PLACEHOLDER.findall(text)) == set(_PLACEHOLDER.findall(vietnamese[key])), key


def test_every_string_the_scripts_ask_for_exists() -> None:
    english = tables()["en"]
    for path in ASSETS.paths(".js", under="js"):
        source = ASSETS.get(f"js/{path}").content.decode()  # type: ignore[union-attr]
        missing = set(_USED.findall(source)) - set(english)
        assert not missing, f"{path} uses {missing}"


def test_the_vietnamese_interface_is_written_with_its_diacritics() -> None:
    vietnamese = tables()["vi"]
    assert vietnamese["chat.send"] == "Gửi" and vietnamese["shell.signOut"] == "Đăng xuất"
    english = tables()["en"]
    worded = {key: _PLACEHOLDER.sub("", text) for key, text in vietnamese.items()}
    untranslated = [key for key, text in worded.items() if vietnamese[key] == english[key] and len(text) > 12]
    assert untranslated == []
