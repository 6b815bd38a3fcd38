"""The agent console's own texts in its five languages, in a real browser (Chromium, Playwright) against the real
server: every language has the English keys and placeholders; the agent's pick applies at once (the login page,
the queue, an open chat, the tickets, the notices) and outlives a reload; the browser's language is the default.
The Malay console's screenshot goes to tests/artifacts/console-languages/.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.handoff_support import PASSWORD, SPLIT_ID_PARTS
from tests.servers import RunningBot

expect = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed").expect

ARTIFACTS = ROOT / "tests" / "artifacts" / "console-languages"
LANGUAGES = ["en", "ms", "id", "tl", "vi"]
PLACEHOLDER = re.compile(r"\{(\w+)\}")


@pytest.fixture
def open_console(chromium: Any, handoff_bot: RunningBot) -> Iterator[Callable[..., Any]]:
    """Opens the console's login page in a new browser profile with the given locale; no page may raise errors."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_page(locale: str = "en-US") -> Any:
        context = chromium.new_context(locale=locale, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(20_000)
        context.on("weberror", lambda error: errors.append(str(error.error)))
        contexts.append(context)
        page = context.new_page()
        page.goto(handoff_bot.url + "/console/")
        page.locator("#login-form").wait_for()
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def strings(table: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Every text of one language by its dotted key ("fields.name")."""
    found: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            found.update(strings(value, f"{prefix}{key}."))
        else:
            assert isinstance(value, str), f"{prefix}{key} is {value!r}"
            found[prefix + key] = value
    return found


def tab_to(page: Any, selector: str, presses: int = 30) -> None:
    """Press Tab until the element matching `selector` has the focus, as a keyboard user would."""
    for _ in range(presses):
        if page.evaluate("s => !!document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} cannot be reached with Tab")


def test_every_language_has_the_english_keys_and_placeholders(open_console):
    page = open_console()
    tables = page.evaluate("window.SupportbotConsoleTexts")
    assert sorted(tables) == sorted(LANGUAGES)
    english = strings(tables["en"])
    for language in LANGUAGES:
        texts = strings(tables[language])
        assert sorted(texts) == sorted(english), language
        for key, text in texts.items():
            assert text.strip(), f"{language} {key} is empty"
            assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(english[key])), (language, key)
        if language != "en":  # translated, not copied: most texts differ (Tagalog keeps "ticket", "queue", …)
            same = [key for key in texts if texts[key] == english[key]]
            assert len(same) < len(texts) / 2, f"{language} keeps the English text of {same}"
    # Read-only for the page's other scripts (and the tests): changing them changes nothing.
    assert page.evaluate(
        """() => {
            const texts = window.SupportbotConsoleTexts;
            try { texts.ms.fields.name = "x"; } catch (error) { /* strict mode code throws */ }
            return Object.isFrozen(texts) && Object.isFrozen(texts.ms.fields) && texts.ms.fields.name === "Nama";
        }"""
    )


def test_an_agent_picks_malay_and_the_whole_console_follows_at_once_and_after_a_reload(open_console, handoff_bot):
    page = open_console()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#login-heading")).to_have_text("Log in")

    # On the login page, with the keyboard: the language menu comes first in the top bar.
    tab_to(page, "#console-language")
    assert page.get_by_label("Language").evaluate("node => node.id") == "console-language"
    assert page.locator("#console-language option").all_inner_texts() == [
        "English",
        "Bahasa Melayu",
        "Bahasa Indonesia",
        "Tagalog",
        "Tiếng Việt",
    ]
    page.keyboard.press("ArrowDown")  # English -> Bahasa Melayu
    expect(page.locator("html")).to_have_attribute("lang", "ms")
    assert page.title() == "Konsol ejen"
    expect(page.locator("h1")).to_have_text("Konsol ejen")
    expect(page.locator("#login-heading")).to_have_text("Log masuk")
    expect(page.locator("label[for=login-username]")).to_have_text("Nama pengguna")
    expect(page.locator("label[for=login-password]")).to_have_text("Kata laluan")
    expect(page.locator("#login-submit")).to_have_text("Log masuk")
    expect(page.locator("label[for=console-language]")).to_have_text("Bahasa")
    assert page.evaluate("localStorage.getItem('supportbot-console:language')") == "ms"

    # A message already shown changes language with everything else.
    page.locator("#login-submit").click()
    expect(page.locator("#login-error")).to_have_text("Masukkan nama pengguna dan kata laluan anda.")
    page.locator("#console-language").select_option("en")
    expect(page.locator("#login-error")).to_have_text("Enter your username and password.")
    page.locator("#console-language").select_option("ms")
    expect(page.locator("#login-error")).to_have_text("Masukkan nama pengguna dan kata laluan anda.")

    page.get_by_label("Nama pengguna").fill("maya")
    page.get_by_label("Kata laluan").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.locator("#app").wait_for(state="visible")
    expect(page.locator("#tab-queue")).to_have_text("Giliran")
    expect(page.locator("#tab-tickets")).to_have_text("Tiket")
    expect(page.locator("#queue-heading")).to_have_text("Sembang yang diserahkan kepada ejen")
    expect(page.locator("#logout")).to_have_text("Log keluar")
    expect(page.locator("nav.tabs")).to_have_attribute("aria-label", "Paparan")
    expect(page.locator(".chat-placeholder")).to_have_text(
        "Ambil sembang daripada giliran, atau buka sembang anda, untuk melihatnya di sini."
    )

    # A customer asks for a person: the queue item, the claimed chat and its packet are in Malay.
    sender = f"languages-{time.monotonic_ns()}"
    handoff_bot.say("how do I track my order?", sender)  # a row in the packet's FAQ table
    handoff_bot.say("payment", sender)  # and one with candidates, long ids among them ("payments.double_charge")
    handoff_bot.say("I want to talk to a person", sender)
    handoff_id = page.evaluate(
        """async sender => {
            const answer = await (await fetch("/console/api/queue")).json();
            return answer.handoffs.find(h => h.conversation_id === sender).id;
        }""",
        sender,
    )
    item = page.locator(f'.queue-item[data-handoff-id="{handoff_id}"]')
    expect(item.locator(".q-details")).to_have_text("Inggeris · Pelanggan minta bercakap dengan ejen")
    expect(item.locator(".q-state")).to_have_text("Menunggu ejen")
    expect(item.locator(".q-wait")).to_have_text(re.compile(r"^Menunggu \d+:\d\d$"))
    item.locator(".claim", has_text="Ambil").click()
    page.locator("#chat").wait_for(state="visible")
    expect(page.locator("#notice")).to_have_text("Anda kini mengendalikan sembang dengan Pelanggan (tiada nama).")
    expect(page.locator("#chat-heading")).to_have_text("Sembang dengan Pelanggan (tiada nama)")
    expect(page.locator("#packet-heading")).to_have_text("Butiran serahan")
    expect(page.locator("#packet-fields")).to_contain_text("Sebab bot menyerahkan")
    expect(page.locator("#transcript .msg-customer .msg-sender").first).to_have_text("Pelanggan")
    expect(page.locator("#end-handoff")).to_have_text("Tamatkan dan serahkan semula kepada bot")
    expect(page.locator("#reply-hint")).to_have_text(
        "Enter untuk hantar, Shift+Enter untuk baris baharu. Maksimum 2000 aksara."
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / "ms.png")

    # The packet's column is narrow; its FAQ table's headings are longer in some languages ("Iba pang
    # pagpipilian"): in every one it must wrap within the column, not run off its edge.
    for language in LANGUAGES:
        page.locator("#console-language").select_option(language)
        expect(page.locator("#faq tbody tr").first).to_be_visible()
        assert page.locator("#packet").evaluate("e => e.scrollWidth <= e.clientWidth"), language
        assert page.locator("#faq").evaluate(SPLIT_ID_PARTS) == [], language

    # Another language at once, without a reload: the open chat, its packet and the notice too.
    page.locator("#console-language").select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#packet-heading")).to_have_text("Handoff details")
    expect(page.locator("#packet-fields")).to_contain_text("Why the bot handed off")
    expect(page.locator("#transcript .msg-customer .msg-sender").first).to_have_text("Customer")
    expect(item.locator(".q-state")).to_have_text("With you")
    expect(page.locator("#notice")).to_have_text("You have the chat with Customer (no name given).")
    page.locator("#console-language").select_option("ms")
    expect(page.locator("#packet-fields")).to_contain_text("Sebab bot menyerahkan")
    expect(item.locator(".q-state")).to_have_text("Dengan anda")

    # The chat becomes a ticket; its row in the tickets follows the language too, and a typed note stays.
    handoff_bot.say("my email is aisyah.rahman@example.com", sender)
    page.locator("#transcript .msg-customer", has_text="aisyah.rahman@example.com").wait_for()
    page.locator("#make-ticket", has_text="Jadikan tiket").click()
    page.locator("#chat").wait_for(state="hidden")
    made = re.compile(r"^Tiket (TCK-\w+) telah dibuat\. Sembang telah diserahkan semula kepada bot\.$")
    expect(page.locator("#notice")).to_have_text(made)
    ticket_id = made.match(page.locator("#notice").inner_text()).group(1)

    page.locator("#tab-tickets").click()
    expect(page.locator("#tickets-heading")).to_have_text("Tiket")
    expect(page.locator("#ticket-status-filter option:checked")).to_have_text("Semua")
    expect(page.locator("#tickets th").first).to_have_text("Tiket")
    row = page.locator(f'tr.ticket[data-ticket-id="{ticket_id}"]')
    expect(row.locator(".ticket-save")).to_have_text("Simpan")
    expect(row.locator(".ticket-status option:checked")).to_have_text("Dibuka")
    expect(row).to_contain_text("Inggeris")
    row.get_by_label(f"Nota untuk pelanggan tentang tiket {ticket_id}").fill("Kurier akan hantar semula esok.")
    page.locator("#console-language").select_option("en")
    expect(row.locator(".ticket-save")).to_have_text("Save")
    expect(row.locator(".ticket-status option:checked")).to_have_text("Open")
    expect(row).to_contain_text("English")
    assert row.get_by_label(f"Note for the customer about ticket {ticket_id}").input_value() == (
        "Kurier akan hantar semula esok."
    )
    page.locator("#console-language").select_option("ms")
    row.locator(".ticket-save").click()
    expect(page.locator("#notice")).to_have_text(f"Tiket {ticket_id} disimpan: Dibuka.")
    expect(row.locator(".last-note")).to_have_text("Nota terakhir: Kurier akan hantar semula esok.")
    page.locator("#console-language").select_option("en")
    expect(page.locator("#notice")).to_have_text(f"Ticket {ticket_id} saved: Open.")
    expect(row.locator(".last-note")).to_have_text("Last note: Kurier akan hantar semula esok.")
    page.locator("#console-language").select_option("ms")

    # The choice outlives a reload (the session too).
    page.reload()
    page.locator("#app").wait_for(state="visible")
    expect(page.locator("html")).to_have_attribute("lang", "ms")
    expect(page.locator("#tab-queue")).to_have_text("Giliran")
    assert page.locator("#console-language").input_value() == "ms"

    page.locator("#logout").click()
    page.locator("#login-form").wait_for(state="visible")
    expect(page.locator("#notice")).to_have_text("Anda telah log keluar.")


@pytest.mark.parametrize(
    ("locale", "language", "heading", "username"),
    [
        ("vi-VN", "vi", "Đăng nhập", "Tên đăng nhập"),
        ("fil-PH", "tl", "Mag-log in", "Username"),
        ("id-ID", "id", "Masuk", "Nama pengguna"),
    ],
)
def test_the_browsers_language_is_the_default(open_console, locale, language, heading, username):
    page = open_console(locale)
    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(page.locator("#login-heading")).to_have_text(heading)
    expect(page.locator("label[for=login-username]")).to_have_text(username)
    assert page.locator("#console-language").input_value() == language
    assert page.evaluate("localStorage.getItem('supportbot-console:language')") is None  # nothing chosen yet
