"""What the tests do on a chat page, through the hooks the templates give (see templates/base.html)."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

MESSAGES = "#chatHistory li[data-kind=message]"
NOTICES = "#chatHistory li[data-kind=notice]"
ERRORS = "#chatHistory li[data-kind=error]"


def send(page: Page, text: str, *, click: bool = False) -> None:
    """Type text and send it with Enter (or the Send button); the input is cleared afterwards."""
    box = page.locator("#message")
    box.fill(text)
    if click:
        page.locator("#btnSend").click()
    else:
        box.press("Enter")
    expect(box).to_have_value("")


def send_refused(page: Page, text: str) -> None:
    """Type text and press Enter for a message the server refuses: the text stays in the input."""
    box = page.locator("#message")
    box.fill(text)
    box.press("Enter")
    expect(page.locator("#chatHistory li[data-kind=error]").last).to_be_visible()
    expect(box).to_have_value(text)


def enter_room(page: Page, room: str) -> None:
    """Enter a room; the page then names it in the header."""
    page.locator("#roomid").fill(room)
    page.locator("#btnEntry").click()
    expect(page.locator("#roomName")).to_have_attribute("data-room", room)


def messages(page: Page) -> Locator:
    return page.locator(MESSAGES)


def texts(page: Page) -> Locator:
    return page.locator(f"{MESSAGES} .text")


def nicks(page: Page) -> Locator:
    return page.locator(f"{MESSAGES} .nick")


def notices(page: Page) -> Locator:
    return page.locator(f"{NOTICES} .text")


def errors(page: Page) -> Locator:
    return page.locator(f"{ERRORS} .text")


def status(page: Page) -> Locator:
    return page.locator("#status")


def expect_state(page: Page, state: str, timeout: float | None = None) -> None:
    expect(status(page)).to_have_attribute("data-state", state, timeout=timeout)
    expect(status(page)).to_have_text(state)
