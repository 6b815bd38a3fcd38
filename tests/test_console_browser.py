"""The agent console in a real browser (Chromium, Playwright), worked with the keyboard only, against a
customer in the real chat widget. Screenshots go to tests/artifacts/console-browser/.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.handoff_support import PASSWORD
from tests.servers import RunningBot, bot_says

ARTIFACTS = ROOT / "tests" / "artifacts" / "console-browser"
# What a customer might type to attack the agent's page: it must show up as text and run nothing.
HOSTILE = '<img src=x onerror="window.__pwned = 1">my parcel KL-20481234 is late'


@pytest.fixture
def pages(chromium: Any, handoff_bot: RunningBot) -> Iterator[tuple[Any, Any]]:
    """The agent's console and the customer's shop page, each in its own browser profile."""
    agent = chromium.new_context(viewport={"width": 1280, "height": 900})
    customer = chromium.new_context(viewport={"width": 1000, "height": 800})
    errors: list[str] = []
    for context in (agent, customer):
        context.set_default_timeout(20_000)
        context.on("weberror", lambda error: errors.append(str(error.error)))
    console, shop = agent.new_page(), customer.new_page()
    console.goto(handoff_bot.url + "/console/")
    shop.goto(handoff_bot.url + "/")
    yield console, shop
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    console.screenshot(path=ARTIFACTS / "console-end.png")
    shop.screenshot(path=ARTIFACTS / "shop-end.png")
    agent.close()
    customer.close()
    assert errors == [], f"JavaScript errors on the pages: {errors}"


def tab_to(page: Any, selector: str, presses: int = 60) -> None:
    """Press Tab until the element matching `selector` has the focus, as a keyboard user would."""
    for _ in range(presses):
        if page.evaluate("s => !!document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} cannot be reached with Tab")


def customer_says(shop: Any, text: str) -> None:
    shop.locator("#sb-input").fill(text)
    shop.locator("#sb-input").press("Enter")
    shop.locator(".sb-pending").first.wait_for(state="detached")


def test_an_agent_takes_a_chat_replies_and_hands_it_back_with_the_keyboard_only(pages):
    console, shop = pages
    tab_to(console, "#login-username")
    console.keyboard.type("maya")
    console.keyboard.press("Tab")
    console.keyboard.type(PASSWORD)
    console.keyboard.press("Enter")
    console.locator("#app").wait_for(state="visible")
    report = console.context.request.get(console.url.replace("/console/", "/console/report"))  # the agent's cookie
    assert console.locator("#report-link").get_attribute("href") == "/console/report"
    assert report.status == 200 and "<svg" in report.text()

    shop.locator(".sb-bubble").click()
    customer_says(shop, HOSTILE)
    customer_says(shop, "how do I track my order?")  # the answer says "go to **My orders**"
    customer_says(shop, "I want to talk to a person")
    shop.get_by_text(bot_says("utter_handoff_queued", position="1")).wait_for()

    console.locator(".queue-item .claim").first.wait_for()
    tab_to(console, ".queue-item .claim")
    console.keyboard.press("Enter")
    transcript = console.locator("#transcript")
    transcript.locator(".msg-customer", has_text="my parcel KL-20481234 is late").wait_for()
    assert HOSTILE in transcript.inner_text()  # shown as the customer typed it ...
    assert transcript.locator("img").count() == 0  # ... and never as markup
    assert console.evaluate("window.__pwned") is None
    # The bot's answer marks emphasis ("go to **My orders**"): bold, as in the widget, not asterisks.
    bot_texts = transcript.locator(".msg-bot .msg-text")
    assert bot_texts.locator("strong").count() > 0
    assert not any("**" in text for text in bot_texts.all_inner_texts())
    assert "KL-20481234" in console.locator("#packet-fields").inner_text()
    # The packet's column is narrow: its FAQ table (ids, the customer's words) wraps instead of running off it.
    console.locator("#faq tbody tr").first.wait_for()
    scroll_width, client_width = console.locator("#packet").evaluate("e => [e.scrollWidth, e.clientWidth]")
    assert scroll_width <= client_width, console.locator("#faq").evaluate(
        "t => [...t.rows[0].cells].map(c => c.getBoundingClientRect().width)")
    shop.get_by_text(bot_says("utter_handoff_agent_joined", agent_name="Maya Tan")).wait_for()

    tab_to(console, "#reply")
    console.keyboard.type("Hello, I'm Maya. I can see your order and I'm checking it now.")
    console.keyboard.press("Enter")
    agent_reply = shop.locator(".sb-msg.sb-agent")
    agent_reply.wait_for()
    assert "I'm checking it now" in agent_reply.inner_text()
    assert agent_reply.locator(".sb-agent-name").inner_text() == "Maya Tan"  # a person, by name

    thanks = "thank you **so much** <script>alert(1)</script>"  # a customer's asterisks stay as typed
    customer_says(shop, thanks)
    transcript.locator(".msg-customer", has_text=thanks).wait_for(timeout=2_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    console.screenshot(path=ARTIFACTS / "console-chat.png")

    tab_to(console, "#end-handoff")
    console.keyboard.press("Enter")
    console.locator("#chat").wait_for(state="hidden")
    shop.get_by_text(bot_says("utter_ask_csat")).wait_for()
    shop.locator(".sb-choice", has_text="5").last.click()
    shop.get_by_text(bot_says("utter_csat_thanks")).wait_for()
