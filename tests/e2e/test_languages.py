"""Korean and English pages and notices, chosen from the browser's language; Hangul typed through an IME."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.test_standalone import save_standalone_pages
from tests.e2e.ui import enter_room, notices, send, texts

pytestmark = pytest.mark.browser


def korean(pages, url: str, nickname: str | None = None):
    page = pages.open(url, nickname, locale="ko-KR", wait_connected=False)
    expect(page.locator("#status")).to_have_attribute("data-state", "connected")
    return page


def test_korean_browser_gets_korean_pages_and_notices(start_server, pages):
    web = start_server()
    pages.allow_server(web.url)
    ko = korean(pages, web.url + "/groupchat", "창훈")
    expect(ko.locator("html")).to_have_attribute("lang", "ko")
    expect(ko.locator("#status")).to_have_text("연결됨")
    expect(ko.locator("label.field span").first).to_have_text("채팅 닉네임")
    expect(ko.locator("#btnSend")).to_have_text("전송")
    expect(ko.locator("#btnEntry")).to_have_text("입장")
    expect(ko.locator("h1")).to_have_text("그룹 채팅")
    en = pages.open(web.url + "/groupchat", "alice")
    expect(en.locator("#btnSend")).to_have_text("Send")
    # Notices to a room: each member reads them in its own language.
    enter_room(ko, "room1")
    enter_room(en, "room1")
    expect(notices(ko)).to_have_text(["room1 방에 창훈(으)로 입장했습니다", "alice님이 입장했습니다"])
    expect(notices(en)).to_have_text(["You entered room room1 as alice"])
    en.locator("#nickname").fill("alicia")
    en.locator("#nickname").dispatch_event("change")
    expect(notices(ko).last).to_have_text("alice님이 이름을 alicia(으)로 바꿨습니다")
    send(ko, "안녕하세요")
    expect(texts(en)).to_have_text(["안녕하세요"])
    enter_room(ko, "room2")  # the page leaves room1
    expect(notices(en).last).to_have_text("창훈 left the room")
    enter_room(en, "room2")
    expect(notices(ko).last).to_have_text("alicia님이 입장했습니다")
    pages.screenshot(ko, "groupchat-korean")
    en.context.close()  # a dropped connection, which may come back (connection-state recovery)
    expect(notices(ko).last).to_have_text("alicia님의 연결이 끊겼습니다 (곧 돌아올 수 있습니다)")


def test_korean_wraps_by_words(start_server, pages):
    web = start_server()
    pages.allow_server(web.url)
    ko = korean(pages, web.url + "/chat", "창훈")
    send(ko, "가나다라마바사 " * 40)
    style = ko.locator("#chatHistory li[data-kind=message]").first.evaluate(
        "li => getComputedStyle(li).wordBreak")
    assert style == "keep-all"
    pages.screenshot(ko, "chat-korean-wrapping")


def test_config_language_overrides_the_browser(start_server, pages):
    web = start_server({"server": {"language": "en"}})
    pages.allow_server(web.url)
    ko = korean(pages, web.url + "/chat")
    expect(ko.locator("#btnSend")).to_have_text("Send")
    expect(ko.locator("html")).to_have_attribute("lang", "en")


def test_saved_page_speaks_the_language_of_the_browser_that_opens_it(start_server, pages, tmp_path):
    web = start_server()
    pages.allow_server(web.url)
    saved = save_standalone_pages(pages, web.url, tmp_path)  # saved from an English browser
    ko = korean(pages, saved["group_chat"], "창훈")
    expect(ko.locator("#btnSend")).to_have_text("전송")
    expect(ko.locator("#roomid")).to_have_attribute("placeholder", "예: room1")
    expect(ko.locator(".server")).to_have_text(f"서버: {web.url}")
    enter_room(ko, "방1")
    expect(notices(ko)).to_have_text(["방1 방에 창훈(으)로 입장했습니다"])


def compose(cdp, text: str) -> None:
    cdp.send("Input.imeSetComposition", {"text": text, "selectionStart": len(text), "selectionEnd": len(text)})


def enter_key(cdp, key_code: int = 13) -> None:
    for kind in ("keyDown", "keyUp"):
        cdp.send("Input.dispatchKeyEvent", {"type": kind, "key": "Enter", "code": "Enter",
                                            "windowsVirtualKeyCode": key_code})


def test_hangul_through_an_ime_is_sent_once_when_committed(start_server, pages):
    web = start_server()
    pages.allow_server(web.url)
    ko = korean(pages, web.url + "/chat", "창훈")
    other = pages.open(web.url + "/chat", "alice")
    box = ko.locator("#message")
    box.focus()
    cdp = ko.context.new_cdp_session(ko)
    for step in ("ㅎ", "하", "한", "한ㄱ", "한그", "한글"):
        compose(cdp, step)
    enter_key(cdp)  # Enter while composing commits the syllable on a real IME: it must not send
    expect(box).to_have_value("한글")
    cdp.send("Input.insertText", {"text": "한글"})  # the composition is committed
    # Safari delivers the committing Enter after compositionend, as key code 229 (IME processing).
    enter_key(cdp, 229)
    expect(box).to_have_value("한글")
    expect(texts(other)).to_have_count(0)
    enter_key(cdp)  # now the user sends
    expect(box).to_have_value("")
    send(ko, "끝")
    expect(texts(other)).to_have_text(["한글", "끝"])
    expect(texts(ko)).to_have_text(["한글", "끝"])


def test_a_page_extension_speaks_the_page_language_from_its_own_catalogue(start_server, pages):
    web = start_server({"plugin_dirs": [str(Path(__file__).parent / "fixture_plugins")],
                        "plugins": {"greeter": {}}})
    pages.allow_server(web.url)
    expect(korean(pages, web.url + "/chat").locator("#greeting")).to_have_text("확장에서 인사드립니다")
    expect(pages.open(web.url + "/chat").locator("#greeting")).to_have_text("Hello from an extension")
