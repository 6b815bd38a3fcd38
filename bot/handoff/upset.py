"""Notice a clearly upset customer, so the bot can offer a person.

Three signals, strongest first: a threat (to report the shop, go public, charge
back or never buy again), angry words aimed at the shop or the bot (or an angry
face: 😡), and shouting (mostly capitals, or "!!!" together with impatience). The decision
comes with its evidence, the customer's own words, for the agent's packet.

Plain negative facts ("my order is late", "tak sampai lagi", "chưa nhận được
hàng") are ordinary support questions, not upset: the lists hold words of
anger, not words of trouble. Every language's list is matched whatever the
message's language, because customers mix languages.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from bot.matching.normalise import LANGUAGES, fold_diacritics


@dataclass(frozen=True)
class Upset:
    """Why a message looks upset."""

    reason: str  # "threat", "angry_words" or "shouting"
    evidence: str  # the customer's words or the pattern that triggered it, for the agent's packet


# How to add a word: write it in lower case as customers type it, to the language it belongs to.
# - Without diacritics it also matches the accented form ("lua dao" matches "lừa đảo").
# - With diacritics it matches only the accented form: use that for words that are ambiguous once
#   folded (Vietnamese "tệ" is "bad"; "te" may be "tê", "tế", "tẻ"; "qua te" is safe without them).
# - Phrases match whole words; a trailing "*" matches any ending ("scam*" matches "scammers"), and "~" up to
#   six words in between ("sms ~ scam" matches "sms from kedai lumina, a scam").
# - Letters repeated by the customer are squeezed before matching ("teruuuk" matches "teruk").
# - Add abbreviations and spelling variants as entries of their own ("x guna langsung").
# - A word that is angry in one sentence and plain in another ("rosak teruk" is "badly damaged")
#   gets the plain sentence in CALM_PHRASES. tests/test_upset.py runs every knowledge-base
#   phrasing through the detector and fails when plain questions start to look upset.

# The lists are data, laid out by hand to stay readable.
# fmt: off

# Anger or contempt aimed at the shop, the bot or the staff.
ANGRY_WORDS: dict[str, tuple[str, ...]] = {
    "en": (
        "useless", "terrible", "horrible", "awful", "pathetic", "ridiculous", "unacceptable", "disgusting", "worst",
        "scam*", "rip off", "ripped off", "cheat*", "liar*", "incompetent", "unprofessional", "idiot*", "stupid",
        "dumb", "fed up", "sick of", "had enough", "waste of time", "waste of my time", "waste of money", "furious",
        "angry", "pissed", "annoyed", "frustrat*", "disappoint*", "hopeless", "nonsense", "bullshit", "wtf", "crap*",
        "sucks", "bad service", "poor service", "what a joke", "thanks for nothing",
    ),
    "ms": (
        "tipu", "kena tipu", "ditipu", "menipu", "penipu", "penipuan", "teruk", "hampeh", "hampas", "bodoh", "bodo",
        "bangang", "bengap", "bengong", "geram", "bengang", "kecewa", "mengecewakan", "menyampah", "meluat",
        "sakit hati", "marah", "naik angin", "mengarut", "merepek", "tak guna langsung", "x guna langsung",
        "servis tak guna", "bot tak guna", "tak boleh diterima", "x boleh diterima", "tak profesional", "x profesional",
        "kurang ajar", "biadap", "biadab", "celaka", "sial", "haram jadah",
    ),
    "id": (
        "penipu", "penipuan", "nipu", "ditipu", "tukang tipu", "parah", "kesel", "kesal", "nyebelin", "ngeselin",
        "sebel", "bete", "lelet", "zonk", "kecewa", "mengecewakan", "bodoh", "goblok", "gblk", "bego", "tolol",
        "bangsat", "brengsek", "sialan", "gak becus", "ga becus", "nggak becus", "gk becus", "tidak becus",
        "keterlaluan", "kebangetan", "pelayanan buruk", "pelayanan jelek", "pelayanannya jelek", "pelayanannya buruk",
        "terburuk", "muak", "nyesel belanja", "menyesal belanja", "amburadul",
    ),
    "tl": (
        "nakakainis", "kainis", "naiinis", "inis na inis", "nakakabwisit", "bwisit", "buwisit", "bwiset",
        "walang kwenta", "walang kuwenta", "walang kwentang", "walang silbi", "manloloko", "niloko", "niloloko",
        "panloloko", "nabudol", "na budol", "pangit ng service", "pangit ng serbisyo", "pangit na serbisyo",
        "galit na galit", "galit ako", "nagagalit", "nakakagalit", "badtrip", "bad trip", "nakakabadtrip",
        "nakakadismaya", "dismayado", "palpak", "ang bobo", "bobo kayo", "bobo ka", "bobo nyo", "bobo talaga", "tanga",
        "gago", "inutil", "tangina", "putangina", "punyeta", "pakshet", "lintik", "bastos", "walang hiya",
    ),
    "vi": (
        "lua dao", "bi lua", "lua tien", "lua khach", "tệ", "qua te", "te qua", "rat te", "that te", "te hai",
        "te nhat", "dich vu te", "phuc vu te", "bực", "buc minh", "buc boi", "buc xuc", "that vong", "vo ly",
        "vo trach nhiem", "lam an kieu gi", "lam an nhu", "cau tha", "kem coi", "dich vu kem", "tức quá", "tức thật",
        "tuc dien", "chán thật", "bot ngu", "shop ngu", "ngu nhu bo", "mất dạy", "xạo", "bố láo", "quá đáng",
        "qua dang vay", "gian doi", "treo dau de", "vcl", "vkl", "dmm", "dcm",
    ),
}

# Threats to report the shop, go public, take it to court, charge back or leave for good.
THREATS: dict[str, tuple[str, ...]] = {
    "en": (
        "report you", "reporting you", "report ~ police", "consumer tribunal", "tribunal", "legal action", "lawyer",
        "sue you", "will sue", "ll sue", "going to sue", "take you to court", "police report", "chargeback",
        "charge back", "dispute the charge", "never buying again", "never buy again", "never buying from",
        "never buy from", "never order again", "never ordering again", "never ordering from", "never shopping at",
        "never shopping here again", "never again", "this is the last time", "go viral", "expose you",
        "leave ~ bad review", "give ~ bad review", "write ~ bad review", "give ~ 1 star", "give ~ one star",
        "1 star review", "one star review", "refund now or i", "refund now or else", "refund me now or",
    ),
    "ms": (
        "report polis", "repot polis", "lapor polis", "laporan polis", "lapor ~ kpdn*", "report ~ kpdn*", "adu ~ kpdn*",
        "aduan ~ kpdn*", "tribunal pengguna", "tuntutan pengguna", "saman", "peguam", "tindakan undang undang",
        "viralkan", "viral kan", "tularkan", "tular kan", "bagi ~ 1 bintang", "bagi ~ bintang 1", "takkan beli lagi",
        "tak akan beli lagi", "x akan beli lagi", "serik", "boikot", "report korang", "lapor korang",
    ),
    "id": (
        "lapor polisi", "laporin kalian", "laporin toko", "laporin ke polisi", "lapor ylki", "ylki", "bpsk",
        "lapor ojk", "viralin", "spill di twitter", "spill di tiktok", "spill di medsos", "tuntut", "gugat",
        "pengacara", "jalur hukum", "somasi", "kapok", "gak mau belanja lagi", "ga mau belanja lagi",
        "nggak akan belanja lagi", "gak bakal belanja lagi", "terakhir kalinya", "kasih ~ bintang 1",
        "kasih ~ 1 bintang", "kasih ~ review jelek", "kasih ~ ulasan buruk", "lapor kalian",
    ),
    "tl": (
        "report ko kayo", "irereport ko kayo", "ireport ko kayo", "i report ko kayo", "isusumbong", "isumbong",
        "ipapatulfo", "ipa tulfo", "tulfo", "report ~ dti", "ireport ~ dti", "irereport ~ dti", "reklamo ~ dti",
        "ireklamo ~ dti", "irereklamo ~ dti", "magrereklamo ~ dti", "sumbong ~ dti", "kakasuhan", "kasuhan",
        "idedemanda", "demanda", "abogado", "ipopost ko kayo", "ipost ko kayo", "ipapaviral", "i viral",
        "hindi na ako bibili ulit", "di na ko bibili ulit", "di na ako bibili ulit", "hindi na ulit ako bibili",
        "hindi na ako oorder ulit", "di na ko oorder ulit", "hinding hindi na",
    ),
    "vi": (
        "bao cong an", "trinh bao", "tố cáo", "to cao shop", "se to cao", "kien shop", "khoi kien", "se kien",
        "boc phot", "dang len mang", "dang len fb", "dang facebook", "danh gia 1 sao", "cho ~ 1 sao",
        "khong bao gio mua", "ko bao gio mua", "k bao gio mua", "khong bao gio quay lai", "la lan cuoi", "tay chay",
        "bao ve nguoi tieu dung",
    ),
}

# Plain sentences that contain a listed word: a phishing question, damage described, "not bad".
CALM_PHRASES: dict[str, tuple[str, ...]] = {
    "en": (
        "worst case", "is this ~ scam", "is it ~ scam", "is that ~ scam", "not a scam", "sms ~ scam", "text ~ scam",
        "message ~ scam", "email ~ scam", "call ~ scam", "link ~ scam", "scam sms", "scam message", "scam email",
        "scam e mail", "scam call", "scam link", "scam text", "report a scam", "report scam", "stupid question",
        "dumb question", "not angry", "not disappointed", "never disappointed",
    ),
    "ms": (
        "lag teruk", "hang teruk", "rosak teruk", "pecah teruk", "calar teruk", "kemek teruk", "koyak teruk",
        "basah teruk", "scam ke", "sms ~ scam", "mesej ~ scam", "panggilan ~ scam", "link ~ scam", "sms scam",
        "mesej scam", "link scam", "tipu ke", "soalan bodoh", "tak kecewa", "x kecewa", "tak marah", "x marah",
    ),
    "id": (
        "lag parah", "ngelag parah", "lemot parah", "rusak parah", "penyok parah", "pecah parah", "retak parah",
        "lecet parah", "sms ~ penipuan", "modus penipuan", "link ~ penipuan", "email ~ penipuan", "telepon ~ penipuan",
        "penipuan atas nama", "apakah ~ penipuan", "penipuan bukan", "penipuan gak", "penipuan ya", "bukan penipuan",
        "pertanyaan bodoh", "gak kecewa", "ga kecewa", "tidak kecewa",
    ),
    "tl": (
        "scam ba", "text ~ scam", "scam text", "scam na text", "hindi scam", "di scam", "hindi ako galit",
        "di ako galit",
    ),
    "vi": (
        "không tệ", "tin nhan ~ lua dao", "cuoc goi ~ lua dao", "email ~ lua dao", "link ~ lua dao", "sms ~ lua dao",
        "co phai ~ lua dao", "co lua dao khong", "co lua dao ko", "co phai la lua dao",
    ),
}

# Impatience: weak on its own, upset together with "!!!". Common words, so only the message's
# language (and English, which every customer mixes in) is searched; all of them when it is unknown.
IMPATIENCE: dict[str, tuple[str, ...]] = {
    "en": (
        "still", "again", "already", "how long", "how many times", "until when", "seriously", "answer me", "reply me",
        "anyone there", "nobody",
    ),
    "ms": ("masih", "lagi", "dah berapa kali", "berapa lama lagi", "sampai bila", "lama gila", "jawab la", "balas la"),
    "id": ("masih", "lagi", "udah berapa kali", "berapa lama lagi", "sampai kapan", "lama banget", "bales dong"),
    "tl": ("pa rin", "parin", "ulit", "ilang beses", "hanggang kailan", "ang tagal", "sobrang tagal", "sagutin"),
    "vi": (
        "vẫn", "van chua", "van khong", "van ko", "nữa", "bao giờ", "bao gio", "bao lâu", "bao lau", "lâu quá",
        "lau qua", "trời ơi", "troi oi",
    ),
}

# Faces and gestures of anger: as clear as an angry word, in every language. Not 👎 (an answer that did
# not help) or 🙄 (mild).
ANGRY_EMOJI: frozenset[str] = frozenset("🤬😡😠👿💢🖕")

# Thanks and praise are sometimes typed in capitals or with "!!!": "THANK YOU SO MUCH!!!" is not shouting.
POSITIVE: tuple[str, ...] = (
    "thank*", "thx", "tysm", "tq", "tqvm", "terima kasih", "makasih", "mksh", "trims", "salamat", "cam on", "awesome",
    "amazing", "yay", "mantap", "mantul", "congrat*",
)

# Short codes and brand names customers type in capitals or mixed case; they are not shouting.
ACRONYMS: frozenset[str] = frozenset(
    "cod otp sms cs fpx tng gcash dhl jnt jt jne ghn ghtk lbc pdf nric ic kl usd myr rm php vnd idr pin cvv sst "
    "gst vat faq dm asap fyi btw atm qr url ios vip bnpl ovo bca bri bni bdo bpi cimb maybank momo vnpay "
    "zalopay grabpay shopeepay paypal duitnow jompay".split()
)
# fmt: on

SHOUTING_MIN_LETTERS = 12  # fewer letters than this ("HELLO", "OK THANKS") is not shouting
SHOUTING_MIN_WORDS = 2  # a single word in capitals is not shouting, however long
SHOUTING_UPPER_SHARE = 0.7  # share of capital letters from which a message counts as shouting

# Three or more "!" and "?" run together, at least one of them "!": "!!!", "?!?!", "??!".
_HEAVY_PUNCTUATION = re.compile(r"(?=[!?]{3})[!?]*![!?]*")
_GAP_WORDS = 6  # how many words "~" in a phrase stands for, at most
_EMPHASIS_MIN_LETTERS = 3  # "NOW", "STILL": one capitalised word among lower case, a weak signal


def detect_upset(text: str, language: str | None = None) -> Upset | None:
    """Why `text` looks clearly upset, or None for an ordinary message.

    `language` is a hint: threats and angry words of every language are matched anyway
    (customers mix languages); it narrows only the weak impatience words. An unknown
    code is treated like None.
    """
    source = unicodedata.normalize("NFKC", text)
    views = _views(source)
    calm = _spans(_CALM, views)
    views = [view.masked(calm) for view in views]
    for reason, lexicon in (("threat", _THREATS), ("angry_words", _ANGRY)):
        spans = _spans(lexicon, views)
        if spans:
            return Upset(reason, _evidence(source, spans))
    emoji = "".join(dict.fromkeys(ch for ch in source if ch in ANGRY_EMOJI))
    if emoji:
        return Upset("angry_words", emoji)
    if _spans(_POSITIVE, views):
        return None
    shouting = _shouting(source, views, language if language in LANGUAGES else None)
    return Upset("shouting", shouting) if shouting else None


# --- matching word lists --------------------------------------------------------------------------


@dataclass(frozen=True)
class _View:
    """The message as matched: lower case, punctuation as spaces; each character knows its source offset."""

    text: str
    origin: tuple[int, ...]  # offset in the source text of each character of `text`
    folded: bool  # diacritics removed (for phrases written without them)

    def masked(self, spans: list[tuple[int, int]]) -> _View:
        """The view with the characters of `spans` (source offsets) blanked out."""
        if not spans:
            return self
        hidden = {i for start, end in spans for i in range(start, end)}
        text = "".join(" " if o in hidden else c for c, o in zip(self.text, self.origin, strict=True))
        return _View(text, self.origin, self.folded)


@dataclass(frozen=True)
class _Lexicon:
    """A word list compiled to two patterns: phrases without diacritics and phrases with them."""

    folded: re.Pattern[str] | None
    exact: re.Pattern[str] | None


_ASCII_NOT_ALNUM = re.compile(r"[^a-z0-9]")
_ASCII_REDUPLICATION = re.compile(r"(?<=[a-z])2(?![a-z0-9])")
_ASCII_LETTER_RUN = re.compile(r"([a-z])\1\1")


def _views(source: str) -> list[_View]:
    """Folded and accented views, each with repeated letters squeezed to two and to one."""
    if source.isascii():
        text = _ASCII_REDUPLICATION.sub(" ", _ASCII_NOT_ALNUM.sub(" ", source.lower()))
        if not _ASCII_LETTER_RUN.search(text):
            # Most messages: nothing to fold or squeeze, every character at its own offset; the four
            # views are one text (matched with both word lists), as `_general_views` would make them.
            origin = tuple(range(len(text)))
            return [_View(text, origin, True), _View(text, origin, False)]
    return _general_views(source)


def _general_views(source: str) -> list[_View]:
    views = []
    for folded in (True, False):
        chars: list[tuple[str, int]] = []
        for i, ch in enumerate(source):
            lowered = ch.lower()
            for c in fold_diacritics(lowered) if folded else lowered:
                chars.append((c if c.isalnum() else " ", i))
        chars = _drop_reduplication(chars)
        for keep in (2, 1):
            squeezed = _squeeze(chars, keep)
            views.append(_View("".join(c for c, _ in squeezed), tuple(o for _, o in squeezed), folded))
    return views


def _drop_reduplication(chars: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Malay and Indonesian chat write a doubled word with a 2 ("tipu2"): read it as the word."""
    result = list(chars)
    for k, (c, o) in enumerate(chars):
        after = chars[k + 1][0] if k + 1 < len(chars) else " "
        if c == "2" and k > 0 and chars[k - 1][0].isalpha() and not after.isalnum():
            result[k] = (" ", o)
    return result


def _squeeze(chars: list[tuple[str, int]], keep: int) -> list[tuple[str, int]]:
    """A letter typed three times or more kept `keep` times ("teruuuk" -> "teruuk" or "teruk")."""
    result: list[tuple[str, int]] = []
    k = 0
    while k < len(chars):
        end = k + 1
        while end < len(chars) and chars[end][0] == chars[k][0]:
            end += 1
        run = chars[k:end]
        result.extend(run[:keep] if len(run) >= 3 and run[0][0].isalpha() else run)
        k = end
    return result


def _compile(lists: Iterable[Iterable[str]]) -> _Lexicon:
    phrases = sorted({p for phrases in lists for p in phrases}, key=len, reverse=True)
    folded = [_pattern(p) for p in phrases if p.isascii()]
    exact = [_pattern(unicodedata.normalize("NFC", p)) for p in phrases if not p.isascii()]
    return _Lexicon(_alternation(folded), _alternation(exact))


def _pattern(phrase: str) -> str:
    pattern = ""
    for word in re.findall(r"\w+\*?|~", phrase):
        if word == "~":
            pattern += rf"(?:\w+\s+){{0,{_GAP_WORDS}}}"
        else:
            pattern += re.escape(word.rstrip("*")) + (r"\w*" if word.endswith("*") else "") + r"\s+"
    return pattern.removesuffix(r"\s+")


def _alternation(patterns: list[str]) -> re.Pattern[str] | None:
    # In a lookahead, so that overlapping phrases are all found ("I'll report you to KPDN").
    return re.compile(r"(?<!\w)(?=((?:" + "|".join(patterns) + r"))(?!\w))") if patterns else None


def _spans(lexicon: _Lexicon, views: Iterable[_View]) -> list[tuple[int, int]]:
    """Source spans of the phrases of `lexicon` found in any view, overlapping ones merged, in text order."""
    found = []
    for view in views:
        pattern = lexicon.folded if view.folded else lexicon.exact
        for match in pattern.finditer(view.text) if pattern else ():
            found.append((view.origin[match.start(1)], view.origin[match.end(1) - 1] + 1))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(found):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _evidence(source: str, spans: list[tuple[int, int]]) -> str:
    """The matched words as the customer typed them, each once: "scam, worst"."""
    words: dict[str, str] = {}
    for start, end in spans:
        # A squeezed match ends early in "SCAMMMM": take the whole run of the letter.
        while end < len(source) and source[end].isalpha() and source[end].lower() == source[end - 1].lower():
            end += 1
        words.setdefault(source[start:end].lower(), source[start:end])
    return ", ".join(words.values())


_ANGRY = _compile(ANGRY_WORDS.values())
_THREATS = _compile(THREATS.values())
_CALM = _compile(CALM_PHRASES.values())
_POSITIVE = _compile([POSITIVE])
_IMPATIENCE = {language: _compile([IMPATIENCE["en"], IMPATIENCE[language]]) for language in LANGUAGES}
_IMPATIENCE_ANY = _compile(IMPATIENCE.values())


# --- shouting -------------------------------------------------------------------------------------


def _shouting(source: str, views: list[_View], language: str | None) -> str | None:
    """Evidence of shouting: mostly capitals, or heavy punctuation with another weak signal."""
    words = [w for w in (_letters(token) for token in source.split() if not _is_code(token)) if w]
    letters = sum(len(w) for w in words)
    upper = sum(1 for w in words for c in w if c.isupper())
    if len(words) >= SHOUTING_MIN_WORDS and letters >= SHOUTING_MIN_LETTERS and upper >= SHOUTING_UPPER_SHARE * letters:
        return f"{upper / letters:.0%} capital letters"
    punctuation = _HEAVY_PUNCTUATION.search(source)
    if not punctuation:
        return None
    emphasis = next((w for w in words if len(w) >= _EMPHASIS_MIN_LETTERS and w.isupper()), None)
    if emphasis:
        return f"{punctuation.group()} with {emphasis}"
    impatience = _spans(_IMPATIENCE[language] if language else _IMPATIENCE_ANY, views)
    if impatience:
        return f"{punctuation.group()} with {_evidence(source, impatience)}"
    return None


def _letters(token: str) -> str:
    return "".join(c for c in token if c.isalpha())


def _is_code(token: str) -> bool:
    """Order numbers, e-mail and web addresses, acronyms and brand names: capitals that are not shouting."""
    if any(c.isdigit() for c in token) or "@" in token or token.lower().startswith(("http", "www.")):
        return True
    letters = _letters(token)
    if fold_diacritics(letters.lower()) in ACRONYMS:
        return True
    # "GCash", "iPhone": capitals inside a word are a name's spelling, not the customer's voice.
    mixed = any(c.isupper() for c in letters) and any(c.islower() for c in letters)
    return mixed and not (letters[0].isupper() and letters[1:].islower())
