"""Messages in a script none of the bot's languages use."""

from __future__ import annotations

import pytest

from bot.language.script import in_other_script


@pytest.mark.parametrize(
    "text",
    [
        "你好，我的订单在哪里",
        "สวัสดีครับ สินค้าของฉันอยู่ที่ไหน",
        "என் ஆர்டர் எங்கே?",
        "안녕하세요 주문",
        "Где мой заказ? KL-20481234",
    ],
)
def test_chinese_thai_tamil_korean_and_russian_are_another_script(text: str) -> None:
    assert in_other_script(text)


@pytest.mark.parametrize(
    "text",
    [
        "where is my order",
        "Đơn hàng của tôi đâu rồi?",  # Vietnamese letters are Latin with diacritics
        "lampu 台灯 ada stok?",  # a few characters quoted in a Latin message
        "KL-20481234",
        "😡😡😡",
        "",
        "Ñoño café",
    ],
)
def test_the_five_languages_codes_and_emoji_are_not(text: str) -> None:
    assert not in_other_script(text)
