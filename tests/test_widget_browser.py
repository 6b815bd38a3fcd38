"""The chat widget in a real browser: Debian's Chromium driven by Playwright, against the real product.

Screenshots of every test go to tests/artifacts/widget-browser/.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import pytest

from bot.knowledge.schema import KnowledgeBase
from tests.conftest import CHROMIUM
from tests.servers import ROOT, RunningBot, bot_says

playwright = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

AXE = ROOT / "widget" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "tests" / "artifacts" / "widget-browser"
HOTPINK = "rgb(255, 105, 180)"  # the demo shop's own button colour

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Chromium is not installed (apt-get install chromium; .ci/run installs it)"
)


@pytest.fixture
def context(chromium, request) -> Iterator[playwright.BrowserContext]:
    """A fresh browser profile (empty storage) per test; a screenshot of its last page afterwards."""
    viewport = getattr(request, "param", {"width": 1280, "height": 800})
    context = chromium.new_context(viewport=viewport)
    context.set_default_timeout(20_000)
    errors: list[str] = []
    context.on("weberror", lambda error: errors.append(str(error.error)))
    yield context
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for index, page in enumerate(context.pages):
        page.screenshot(path=ARTIFACTS / f"{request.node.name}-{index}.png")
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


@pytest.fixture
def page(context, widget_bot: RunningBot) -> playwright.Page:
    page = context.new_page()
    page.goto(widget_bot.url + "/")
    return page


# --- helpers -------------------------------------------------------------------------------------


def open_chat(page: playwright.Page) -> None:
    page.locator(".sb-bubble").click()
    wait_for_bot_messages(page, 1)


def bot_messages(page: playwright.Page) -> playwright.Locator:
    return page.locator(".sb-msg.sb-bot")


def wait_for_bot_messages(page: playwright.Page, count: int) -> None:
    page.wait_for_function(
        "n => document.querySelector('supportbot-chat').shadowRoot.querySelectorAll('.sb-msg.sb-bot').length >= n",
        arg=count,
    )


def ask(page: playwright.Page, text: str) -> None:
    """Type a question and press Enter; return once the bot's whole reply is shown."""
    before = bot_messages(page).count()
    page.locator("#sb-input").fill(text)
    page.locator("#sb-input").press("Enter")
    wait_for_bot_messages(page, before + 1)
    page.locator(".sb-pending").first.wait_for(state="detached")  # acknowledged: the reply is complete


def message_text(message: playwright.Locator) -> str:
    """What a message shows, without the screen-reader prefix ("Assistant:")."""
    return message.locator(".sb-body").inner_text()


def active_element(page: playwright.Page) -> dict[str, str]:
    return page.evaluate(
        """() => { const el = document.querySelector('supportbot-chat').shadowRoot.activeElement;
                   return el ? {id: el.id, cls: el.className, text: el.textContent} : {}; }"""
    )


def first_paragraph(knowledge: KnowledgeBase, entry_id: str, language: str = "en") -> str:
    return knowledge.answer(entry_id, language).split("\n\n")[0].replace("**", "").strip()


# --- tests ---------------------------------------------------------------------------------------


def test_open_ask_and_read_a_formatted_answer(page, knowledge):
    bubble = page.locator(".sb-bubble")
    assert bubble.get_attribute("aria-label") == "Chat with us"
    open_chat(page)
    assert active_element(page)["id"] == "sb-input"  # focus goes to where the customer types
    assert message_text(bot_messages(page).first) == bot_says("utter_greet")
    ask(page, "how do i track my order")
    answer = bot_messages(page).nth(1)
    assert message_text(answer).startswith(first_paragraph(knowledge, "orders.track")[:60])
    assert answer.locator("strong").first.inner_text() == "My orders"  # **bold** rendered, markers gone
    assert answer.locator("p").count() == 2  # two paragraphs
    tracking = answer.locator("a[href^='https://']").first
    assert tracking.get_attribute("rel") == "noopener noreferrer" and tracking.get_attribute("target") == "_blank"
    assert answer.locator("a[href^='mailto:']").count() == 1
    assert message_text(bot_messages(page).last) == bot_says("utter_ask_helpful")
    assert page.locator(".sb-typing").is_hidden()


def test_a_did_you_mean_button_answers_the_chosen_entry(page, knowledge):
    open_chat(page)
    ask(page, "return")
    question = bot_messages(page).last
    assert message_text(question) == bot_says("utter_did_you_mean")
    choices = question.locator(".sb-choice")
    titles = choices.all_inner_texts()
    chosen = titles[0]
    entry_id = next(e.id for e in knowledge.entries.values() if e.title["en"] == chosen)
    before = bot_messages(page).count()
    choices.first.click()
    wait_for_bot_messages(page, before + 1)
    assert page.locator(".sb-msg.sb-user").last.inner_text().endswith(chosen)  # the title, not the payload
    assert message_text(bot_messages(page).nth(before)).startswith(first_paragraph(knowledge, entry_id)[:60])
    assert page.locator(".sb-choices").count() <= 1  # the answered question's buttons are gone


def test_the_conversation_survives_a_reload_and_other_pages_until_a_new_one_is_started(page, widget_bot):
    open_chat(page)
    ask(page, "how do i track my order")
    shown = page.locator(".sb-log").inner_text()
    page.reload()
    page.locator(".sb-msg.sb-user").first.wait_for()
    assert page.locator(".sb-panel").is_visible()  # it was open, and stays open
    assert page.locator(".sb-log").inner_text() == shown
    page.goto(widget_bot.url + "/demo/delivery.html")
    page.locator(".sb-msg.sb-user").first.wait_for()
    assert page.locator(".sb-log").inner_text() == shown
    page.get_by_role("button", name="New conversation").click()
    page.wait_for_function(
        "() => document.querySelector('supportbot-chat').shadowRoot.querySelectorAll('.sb-msg').length === 1"
    )
    assert message_text(bot_messages(page).first) == bot_says("utter_greet")


def test_a_whole_conversation_with_the_keyboard_alone(page):
    for _ in range(40):  # Tab through the shop's page to the chat bubble
        page.keyboard.press("Tab")
        if "sb-bubble" in active_element(page).get("cls", ""):
            break
    assert "sb-bubble" in active_element(page)["cls"]
    page.keyboard.press("Enter")
    wait_for_bot_messages(page, 1)
    assert active_element(page)["id"] == "sb-input"
    page.keyboard.type("how do i track my order")
    page.keyboard.press("Enter")
    wait_for_bot_messages(page, 3)
    page.locator(".sb-pending").first.wait_for(state="detached")
    page.keyboard.press("Shift+Tab")  # back from the text box to the last answer's buttons
    assert active_element(page) == {"id": "", "cls": "sb-choice", "text": "No"}
    page.keyboard.press("Shift+Tab")
    assert active_element(page)["text"] == "Yes"
    page.keyboard.press("Enter")
    wait_for_bot_messages(page, 4)
    assert page.locator(".sb-msg.sb-user").last.inner_text().endswith("Yes")
    assert active_element(page)["id"] == "sb-input"
    page.keyboard.press("Escape")
    assert page.locator(".sb-panel").is_hidden()
    assert "sb-bubble" in active_element(page)["cls"]  # focus returns to where it was


XSS_TYPED = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script><b>bold?</b>'


def test_html_typed_by_the_customer_is_shown_as_text(page):
    open_chat(page)
    ask(page, XSS_TYPED)
    assert page.locator(".sb-msg.sb-user .sb-body").last.inner_text() == XSS_TYPED
    assert page.locator(".sb-log img, .sb-log script, .sb-log b").count() == 0
    assert page.evaluate("window.__xss") is None


XSS_IN_ANSWER = (
    "Hostile <img src=x onerror=\"window.__xss='answer'\"> "
    "[click me](javascript:window.__xss='link') <a href=\"javascript:alert(1)\">x</a>"
)


def test_html_in_an_faq_answer_is_shown_as_text(page, widget_bot):
    path = widget_bot.faq / "orders.yml"
    original = path.read_text(encoding="utf-8")
    start = original.index("        Go to **My orders**")
    path.write_text(original[:start] + f"        {XSS_IN_ANSWER}\n\n" + original[start:], encoding="utf-8")
    try:
        deadline = time.monotonic() + 10
        while not any("Hostile" in m.get("text", "") for m in widget_bot.say("how do i track my order", "xss")):
            assert time.monotonic() < deadline, "the edited answer did not go live"
            time.sleep(0.3)
        open_chat(page)
        ask(page, "how do i track my order")
        answer = bot_messages(page).nth(1)
        assert "Hostile <img src=x onerror=" in message_text(answer)
        assert "[click me](javascript:window.__xss='link')" in message_text(answer)
        assert page.locator(".sb-log img, .sb-log script").count() == 0
        hrefs = answer.locator("a").evaluate_all("links => links.map(a => a.href)")
        assert hrefs and all(re.match(r"^(https?|mailto):", href) for href in hrefs)
        assert page.evaluate("window.__xss") is None
    finally:
        path.write_text(original, encoding="utf-8")


@pytest.mark.parametrize("context", [{"width": 375, "height": 740}], indirect=True)
def test_on_a_phone_sized_screen_the_chat_fills_the_screen(page):
    open_chat(page)
    ask(page, "how do i track my order")
    box = page.locator(".sb-panel").bounding_box()
    assert box["x"] == 0 and box["width"] == 375 and box["height"] == 740
    log_fits = "e => e.scrollWidth <= e.clientWidth"
    assert page.locator(".sb-log").evaluate(log_fits)  # no sideways scrolling
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / "widget-375px.png")


def test_the_shops_styles_and_the_widgets_stay_apart(page):
    def style(selector: str, prop: str) -> str:
        return page.locator(selector).first.evaluate(f"e => getComputedStyle(e).{prop}")

    shop_font = page.evaluate("getComputedStyle(document.body).fontFamily")
    open_chat(page)
    assert style(".product button", "backgroundColor") == HOTPINK  # the shop's buttons are untouched
    assert page.evaluate("getComputedStyle(document.body).fontFamily") == shop_font
    assert style(".sb-send", "backgroundColor") != HOTPINK  # the shop's `button` rule stays out
    assert "Georgia" not in style(".sb-root", "fontFamily")  # and so does its `*` font
    assert style(".sb-msg", "textTransform") == "none"  # and its `div` rule


def test_options_come_from_the_script_tag_and_the_page_language(context, widget_bot):
    page = context.new_page()
    page.goto(widget_bot.url + "/demo/ms.html")  # <html lang="ms">, data-open, data-position="left", data-color
    wait_for_bot_messages(page, 1)  # open from the start, greeting in Malay
    assert message_text(bot_messages(page).first) == bot_says("utter_greet", "ms")
    assert page.locator(".sb-title").inner_text() == "Kedai Lumina"
    assert page.locator(".sb-send").inner_text() == "Hantar"
    assert page.locator(".sb-header").evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(122, 31, 92)"
    assert page.locator(".sb-panel").bounding_box()["x"] < 100  # on the left
    ask(page, "macam mana nak jejak pesanan sy")
    assert message_text(bot_messages(page).last) == bot_says("utter_ask_helpful", "ms")


def stored_state(page: playwright.Page, url: str) -> dict:
    return json.loads(page.evaluate(f"localStorage.getItem('supportbot:{url}')"))


def wait_until_all_sent(page: playwright.Page, url: str) -> None:
    """A message's acknowledgement arrives after its replies: until then it is still stored as unsent."""
    page.wait_for_function(
        "key => JSON.parse(localStorage.getItem(key)).pending.length === 0", arg=f"supportbot:{url}"
    )


def test_what_is_typed_while_offline_is_sent_when_the_connection_is_back(page, context, widget_bot):
    open_chat(page)
    wait_until_all_sent(page, widget_bot.url)  # the greeting too
    context.set_offline(True)
    page.locator(".sb-status").filter(has_text="Reconnecting").wait_for()
    page.locator("#sb-input").fill("how do i return an item")
    page.locator("#sb-input").press("Enter")
    assert page.locator(".sb-msg.sb-user.sb-pending").inner_text().endswith("how do i return an item")
    assert [p["message"] for p in stored_state(page, widget_bot.url)["pending"]] == ["how do i return an item"]
    time.sleep(1)
    assert bot_messages(page).count() == 1  # nothing answered while offline
    context.set_offline(False)
    wait_for_bot_messages(page, 2)
    page.locator(".sb-pending").first.wait_for(state="detached")
    assert stored_state(page, widget_bot.url)["pending"] == []
    assert page.locator(".sb-msg.sb-user").count() == 1  # sent once


def test_a_message_whose_acknowledgement_was_lost_is_not_shown_or_answered_twice(page, widget_bot):
    open_chat(page)
    ask(page, "how do i track my order")
    wait_until_all_sent(page, widget_bot.url)  # so that no late acknowledgement rewrites what is stored below
    shown = page.locator(".sb-log").inner_text()
    # The server answered, but the browser never heard "ok": the message is still stored as unsent.
    message_id = page.locator(".sb-msg.sb-user").first.get_attribute("data-id")
    key = f"supportbot:{widget_bot.url}"
    state = stored_state(page, widget_bot.url)
    state["pending"] = [{"id": message_id, "message": "how do i track my order", "metadata": {}, "tried": True}]
    page.evaluate("([key, value]) => localStorage.setItem(key, value)", [key, json.dumps(state)])
    page.reload()
    page.locator(".sb-msg.sb-user").first.wait_for()
    wait_until_all_sent(page, widget_bot.url)
    time.sleep(1)  # time for a second answer, were one coming
    assert page.locator(".sb-log").inner_text() == shown
    assert page.locator(".sb-msg.sb-user").count() == 1


def test_talk_to_a_person_is_always_visible_and_asks_for_one(page, widget_bot):
    open_chat(page)
    button = page.get_by_role("button", name="Talk to a person")
    assert button.is_visible()
    button.click()
    wait_for_bot_messages(page, 2)
    assert page.locator(".sb-msg.sb-user").last.inner_text().endswith("I'd like to talk to a person")
    expected = "\n\n".join(m["text"] for m in widget_bot.say("/human_handoff", "person-button"))
    assert message_text(bot_messages(page).nth(1)).replace("\n\n", "\n") == expected.replace("\n\n", "\n")


def test_the_open_widget_has_no_serious_accessibility_violations(page):
    if not AXE.exists():
        pytest.fail("axe-core is missing: `make install` runs npm ci in widget/")
    open_chat(page)
    ask(page, "return")  # a question with buttons on screen
    page.add_script_tag(path=str(AXE))
    results = page.evaluate("axe.run({include: [['supportbot-chat']]})")
    assert results["passes"], "axe checked nothing in the widget"
    serious = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]])
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == []
