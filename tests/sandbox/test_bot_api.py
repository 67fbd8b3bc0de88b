"""Tests of the loopback Bot API sandbox, driven through PTB's real Bot and Application."""

from __future__ import annotations

import asyncio
import json
import struct
import time
import zlib
from collections.abc import AsyncIterator

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.sandbox import (
    ChatClient,
    FakeBotApi,
    entities_to_html,
    parse_formatted_text,
    running_application,
    wait_until_idle,
)
from bot.sandbox.bot_api import BotApiError, parse_html, parse_markdown_v2


def _png(width: int = 2, height: int = 1) -> bytes:
    """A valid RGB PNG of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


PNG = _png()
CSV = b"name,phone\nIvanov,+79990001122\nPetrov,+79990003344\n"
KEYBOARD = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("Yes", callback_data="answer:yes"),
            InlineKeyboardButton("No", callback_data="answer:no"),
        ],
        [InlineKeyboardButton("Open site", url="https://example.com/crm")],
    ]
)


async def _start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None and update.effective_user is not None
    await update.message.reply_text(
        f"Hello, <b>{update.effective_user.first_name}</b>! Tom &amp; Jerry &lt;Ltd&gt;",
        parse_mode=ParseMode.HTML,
        reply_markup=KEYBOARD,
    )


async def _find(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    await update.message.reply_text(f"Searching: {' '.join(context.args or [])}")


async def _choice(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    choice = query.data.split(":", 1)[1]
    await query.answer(f"Chose {choice}", show_alert=choice == "no")
    await query.edit_message_text(f"You chose <i>{choice}</i>", parse_mode=ParseMode.HTML)


async def _files(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    await update.message.reply_chat_action(ChatAction.UPLOAD_DOCUMENT)
    await update.message.reply_photo(PNG, caption="Chart <b>Q1</b>", parse_mode=ParseMode.HTML)
    await update.message.reply_document(
        InputFile(CSV, filename="clients.csv"), caption="Export of 2 clients"
    )


async def _import(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None and update.message.document is not None
    document = update.message.document
    file = await document.get_file()
    data = bytes(await file.download_as_bytearray())
    rows = data.decode().strip().splitlines()[1:]
    await update.message.reply_text(
        f"Imported {len(rows)} rows from {document.file_name} ({update.message.caption})"
    )


async def _menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    keyboard = ReplyKeyboardMarkup(
        [[KeyboardButton("Share phone", request_contact=True)], ["Clients", "Tasks"]]
    )
    await update.message.reply_text("Main menu", reply_markup=keyboard)


async def _contact(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None and update.message.contact is not None
    await update.message.reply_text(f"Phone saved: {update.message.contact.phone_number}")


async def _silent(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Handles the command without answering."""


async def _broken(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    try:
        await update.message.reply_text("Tom & Jerry <Ltd>", parse_mode=ParseMode.HTML)
    except BadRequest as exc:
        await update.message.reply_text(f"failed: {exc.message}")


async def _background(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Runs as a non-blocking handler, answering after the update counts as handled."""
    assert update.message is not None
    await asyncio.sleep(0.03)
    progress = await update.message.reply_text("Working…")
    await asyncio.sleep(0.02)
    await progress.edit_text("Done")
    await update.message.reply_text("Report ready")
    await progress.delete()


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None and update.message.text is not None
    await update.message.reply_text(update.message.text)


def build_app(server: FakeBotApi) -> Application:  # type: ignore[type-arg]
    """A tiny bot exercising the features the sandbox must support."""
    app = server.application_builder().build()
    app.add_handler(CommandHandler("start", _start))
    app.add_handler(CommandHandler("find", _find))
    app.add_handler(CommandHandler("files", _files))
    app.add_handler(CommandHandler("menu", _menu))
    app.add_handler(CommandHandler("silent", _silent))
    app.add_handler(CommandHandler("broken", _broken))
    app.add_handler(CommandHandler("background", _background, block=False))
    app.add_handler(CallbackQueryHandler(_choice, pattern=r"^answer:"))
    app.add_handler(MessageHandler(filters.Document.ALL, _import))
    app.add_handler(MessageHandler(filters.CONTACT, _contact))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, _echo))
    return app


@pytest.fixture
async def server() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as fake:
        yield fake


@pytest.fixture
async def bot(server: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(
        server.token, base_url=server.base_url, base_file_url=server.base_file_url
    ) as client:
        yield client


@pytest.fixture
async def running(server: FakeBotApi) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    async with running_application(build_app(server), server) as app:
        yield app


@pytest.fixture
def user(server: FakeBotApi) -> ChatClient:
    return server.user(42, "Ivan", language_code="ru", username="ivan_petrov")


# ---- conversation driving -------------------------------------------------------------------


@pytest.mark.usefixtures("running")
async def test_send_command_returns_reply_with_markup_and_stripped_text(
    server: FakeBotApi, user: ChatClient
) -> None:
    reply = await user.send("/start")

    assert len(reply) == 1
    message = reply.last
    assert message.text == "Hello, Ivan! Tom & Jerry <Ltd>"
    assert message.html == "Hello, <b>Ivan</b>! Tom &amp; Jerry &lt;Ltd&gt;"
    assert message.entities == [{"type": "bold", "offset": 7, "length": 4}]
    assert message.buttons == [
        [("Yes", "answer:yes"), ("No", "answer:no")],
        [("Open site", "https://example.com/crm")],
    ]
    assert message.button_texts() == ["Yes", "No", "Open site"]
    assert message.sender["id"] == server.bot_user["id"] and message.outgoing
    assert message.message_id == 2  # the user's /start is message 1 of the chat
    assert user.last is message and user.messages == [message]

    reply = await user.send("/find Ivanov Petr")
    assert reply.text == "Searching: Ivanov Petr"
    assert reply.last.message_id == 4
    assert reply.last.date >= message.date


@pytest.mark.usefixtures("running")
async def test_click_edits_message_and_records_callback_answer(user: ChatClient) -> None:
    first = (await user.send("/start")).last

    reply = await user.click("Yes")
    assert reply.messages == []
    assert reply.edits == [first]
    assert first.text == "You chose yes" and first.html == "You chose <i>yes</i>"
    assert first.edited and first.history[0].text.startswith("Hello, Ivan!")
    assert first.buttons == []  # an edit without reply_markup drops the keyboard
    assert reply.callback_answered and reply.callback_answer is not None
    assert reply.callback_answer.text == "Chose yes" and not reply.callback_answer.show_alert

    second = (await user.send("/start")).last
    third = (await user.send("/start")).last
    reply = await user.click(0, 1, message=second)  # an older message, by position
    assert reply.edits == [second] and second.text == "You chose no"
    assert reply.callback_answer is not None and reply.callback_answer.show_alert
    assert not third.edited

    await user.click("ye")  # unique case-insensitive substring, on the latest keyboard
    assert third.text == "You chose yes"
    assert [a.data for a in user.callback_answers] == ["answer:yes", "answer:no", "answer:yes"]


@pytest.mark.usefixtures("running")
async def test_click_rejects_unknown_ambiguous_and_url_buttons(user: ChatClient) -> None:
    await user.send("/start")
    with pytest.raises(AssertionError, match="not found"):
        await user.click("Maybe")
    with pytest.raises(AssertionError, match="ambiguous"):
        await user.click("e")  # "Yes" and "Open site"
    with pytest.raises(AssertionError, match="not a callback button"):
        await user.click("Open site")


@pytest.mark.usefixtures("running")
async def test_photo_document_and_chat_action_are_recorded(
    user: ChatClient, bot: Bot, server: FakeBotApi
) -> None:
    reply = await user.send("/files")

    photo, document = reply.messages
    assert reply.chat_actions == ["upload_document"]
    assert photo.photo is not None and photo.photo.data == PNG
    assert (photo.photo.width, photo.photo.height) == (2, 1)
    assert photo.caption == "Chart Q1" and photo.text is None
    assert document.document is not None
    assert document.document.data == CSV and document.document.filename == "clients.csv"
    assert document.document.mime_type == "text/csv"
    assert document.caption == "Export of 2 clients"

    # Files the bot sent can be fetched again through getFile + the file route.
    file = await bot.get_file(document.document.file_id)
    assert file.file_path is not None and file.file_path.startswith(server.base_file_url)
    assert bytes(await file.download_as_bytearray()) == CSV


@pytest.mark.usefixtures("running")
async def test_user_document_is_downloadable_by_the_bot(user: ChatClient) -> None:
    reply = await user.send_document("import.csv", CSV, caption="weekly import")
    assert reply.text == "Imported 2 rows from import.csv (weekly import)"


@pytest.mark.usefixtures("running")
async def test_reply_keyboard_and_contact(user: ChatClient) -> None:
    await user.send("/menu")
    assert user.reply_keyboard == [["Share phone"], ["Clients", "Tasks"]]
    assert user.last.keyboard == user.reply_keyboard and user.last.buttons == []

    reply = await user.send_contact("+79990001122")
    assert reply.text == "Phone saved: +79990001122"
    assert (await user.send("Clients")).text == "Clients"


@pytest.mark.usefixtures("running")
async def test_silence_is_reported_quickly(user: ChatClient) -> None:
    started = time.monotonic()
    with pytest.raises(AssertionError, match="handled the update but did not answer"):
        await user.send("/silent")
    reply = await user.send("/silent", expect_reply=False)
    assert len(reply) == 0 and reply.events == []
    assert time.monotonic() - started < 2


@pytest.mark.usefixtures("running")
async def test_failed_bot_calls_are_visible_to_the_client(user: ChatClient) -> None:
    reply = await user.send("/broken")
    assert reply.text == (
        'failed: Can\'t parse entities: character "&" at byte offset 4 must be escaped as "&amp;"'
    )
    assert [e.method for e in reply.errors] == ["sendMessage"]
    assert reply.errors[0].status == 400


@pytest.mark.usefixtures("running")
async def test_background_work_is_awaited_until_quiet(user: ChatClient) -> None:
    reply = await user.send("/background")
    assert reply.texts == ["Done", "Report ready"]  # live objects: the first one was edited
    assert [m.text for m in reply.deleted] == ["Done"]
    assert reply.edits == reply.deleted and reply.last.text == "Report ready"
    assert [m.text for m in user.messages] == ["Report ready"]
    assert [m.content for m in user.transcript] == ["/background", "Done", "Report ready"]


@pytest.mark.usefixtures("running")
async def test_concurrent_users_get_their_own_replies(server: FakeBotApi) -> None:
    users = [server.user(100 + i, f"User {i}") for i in range(20)]
    replies = await asyncio.gather(*(u.send(f"hello {i}") for i, u in enumerate(users)))
    assert [r.text for r in replies] == [f"hello {i}" for i in range(20)]
    assert all(len(u.messages) == 1 for u in users)


@pytest.mark.usefixtures("running")
async def test_send_without_waiting_and_wait_for_message(user: ChatClient) -> None:
    reply = await user.send("ping", wait=False)
    assert reply.events == []
    message = await user.wait_for_message(lambda m: m.text == "ping")
    assert message.text == "ping"
    await wait_until_idle(user.server)


@pytest.mark.usefixtures("running")
async def test_blocking_user_yields_forbidden(
    user: ChatClient, bot: Bot, server: FakeBotApi
) -> None:
    await user.send("/start")
    await user.block()
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(user.chat_id, "reminder")
    await user.unblock()
    await bot.send_message(user.chat_id, "reminder")

    server.block_chat(user.chat_id)
    with pytest.raises(Forbidden, match="blocked"):
        await bot.send_photo(user.chat_id, PNG)
    server.unblock_chat(user.chat_id)
    assert user.last.text == "reminder"


async def test_runner_runs_lifecycle_hooks_and_shuts_down_fast(server: FakeBotApi) -> None:
    calls: list[str] = []

    async def post_init(app: Application) -> None:  # type: ignore[type-arg]
        await app.bot.set_my_commands([BotCommand("start", "Start")])
        calls.append("init")

    async def post_stop(app: Application) -> None:  # type: ignore[type-arg]
        calls.append("stop")

    async def post_shutdown(app: Application) -> None:  # type: ignore[type-arg]
        calls.append("shutdown")

    app = (
        server.application_builder()
        .post_init(post_init)
        .post_stop(post_stop)
        .post_shutdown(post_shutdown)
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, _echo))
    async with running_application(app, server, poll_timeout=30):
        assert server.commands() == [("start", "Start")]
        assert (await server.user(7).send("hi")).text == "hi"
        started = time.monotonic()
    # The 30 s long poll must not hold up shutdown.
    assert time.monotonic() - started < 1.5
    assert calls == ["init", "stop", "shutdown"]
    assert not server.pending_updates


async def test_updates_outside_allowed_updates_are_dropped(server: FakeBotApi) -> None:
    async with running_application(build_app(server), server, allowed_updates=["message"]):
        user = server.user(42)
        await user.send("/start")
        with pytest.raises(AssertionError, match="not in allowed_updates"):
            await user.click("Yes")
    assert not server.pending_updates


async def test_runner_refuses_an_application_pointed_elsewhere(server: FakeBotApi) -> None:
    app = Application.builder().token(server.token).build()
    with pytest.raises(ValueError, match="not to the sandbox"):
        async with running_application(app, server):
            pass


# ---- Telegram rules -------------------------------------------------------------------------


async def test_html_is_validated_like_telegram(bot: Bot, server: FakeBotApi) -> None:
    server.user(42)
    ok = await bot.send_message(42, "Tom &amp; Jerry &lt;Ltd&gt; &#128512; &quot;q&quot;", "HTML")
    assert ok.text == 'Tom & Jerry <Ltd> 😀 "q"'

    bad = {
        "Tom & Jerry <Ltd>": 'Character "&" at byte offset 4 must be escaped as "&amp;"',
        "Tom <Ltd>": 'Unsupported start tag "ltd" at byte offset 4',
        "a < b": 'Unsupported start tag "" at byte offset 2',
        "R&D": 'Character "&" at byte offset 1',
        "&nbsp;": 'Unsupported HTML entity "&nbsp;"',
        "<b>bold": 'Can\'t find end tag corresponding to start tag "b"',
        "<b><i>x</b></i>": 'expected "</i>", found "</b>"',
        "x</b>": "Unexpected end tag at byte offset 1",
        "line<br>break": 'Unsupported start tag "br"',
        '<span class="x">s</span>': 'Tag "span" must have class "tg-spoiler"',
        "<b": "Unclosed start tag",
    }
    for text, detail in bad.items():
        with pytest.raises(BadRequest, match="Can't parse entities") as caught:
            await bot.send_message(42, text, parse_mode=ParseMode.HTML)
        assert detail.lower() in caught.value.message.lower(), (text, caught.value.message)

    assert [m.text for m in server.messages(42)] == ['Tom & Jerry <Ltd> 😀 "q"']


def test_html_parser_entities_use_utf16_offsets() -> None:
    text, entities = parse_html(
        '😀 <b>bold <i>both</i></b> <a href="https://x.io/?a=1&b=2">link</a> '
        '<pre><code class="language-python">print(1)</code></pre> <code>c</code> '
        '<tg-spoiler>s</tg-spoiler> <span class="tg-spoiler">t</span> '
        "<blockquote expandable>q</blockquote>"
    )
    assert text == "😀 bold both link print(1) c s t q"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 9},
        {"type": "italic", "offset": 8, "length": 4},
        {"type": "text_link", "url": "https://x.io/?a=1&b=2", "offset": 13, "length": 4},
        {"type": "pre", "language": "python", "offset": 18, "length": 8},
        {"type": "code", "offset": 27, "length": 1},
        {"type": "spoiler", "offset": 29, "length": 1},
        {"type": "spoiler", "offset": 31, "length": 1},
        {"type": "expandable_blockquote", "offset": 33, "length": 1},
    ]
    html_text = entities_to_html(text, entities)
    assert parse_html(html_text) == (text, entities)
    overlapping = [
        {"type": "bold", "offset": 0, "length": 4},
        {"type": "italic", "offset": 2, "length": 4},
    ]
    assert entities_to_html("abcdef", overlapping) == "<b>ab<i>cd</i></b><i>ef</i>"


def test_markdown_v2_reserved_characters() -> None:
    assert parse_markdown_v2(r"*Total:* 5\.0 \- _ok_ [site](https://a.io/x\)y)") == (
        "Total: 5.0 - ok site",
        [
            {"type": "bold", "offset": 0, "length": 6},
            {"type": "italic", "offset": 13, "length": 2},
            {"type": "text_link", "offset": 16, "length": 4, "url": "https://a.io/x)y"},
        ],
    )
    with pytest.raises(BotApiError, match=r"Character '\.' is reserved"):
        parse_formatted_text("Total: 5.0", "MarkdownV2")
    with pytest.raises(BotApiError, match="Can't find end of Bold entity"):
        parse_formatted_text("*bold", "MarkdownV2")
    assert parse_markdown_v2("```python\nprint(1)```\n>quote\n`a.b`") == (
        "print(1)\nquote\na.b",
        [
            {"offset": 0, "length": 8, "type": "pre", "language": "python"},
            {"type": "blockquote", "offset": 9, "length": 5},
            {"offset": 15, "length": 3, "type": "code"},
        ],
    )
    assert parse_formatted_text("  padded\n", None) == ("padded", [])


async def test_text_length_is_checked_after_parsing(bot: Bot, server: FakeBotApi) -> None:
    server.user(42)
    await bot.send_message(42, "x" * 4096)
    # Markup doesn't count: 4096 visible characters inside tags are fine.
    await bot.send_message(42, "<b>" + "&lt;" * 4096 + "</b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(42, "x" * 4097)
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(42, "<i>" + "y" * 4097 + "</i>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(42, "<b> </b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="caption is too long"):
        await bot.send_photo(42, PNG, caption="c" * 1025)
    with pytest.raises(BadRequest, match="Image_process_failed"):
        await bot.send_photo(42, CSV)


async def test_inline_keyboard_rules(bot: Bot, server: FakeBotApi) -> None:
    server.user(42)
    fits = "я" * 32  # 64 bytes in UTF-8
    await bot.send_message(
        42,
        "ok",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("a", callback_data=fits)]]),
    )
    for markup, detail in [
        ([[InlineKeyboardButton("a", callback_data=fits + "!")]], "BUTTON_DATA_INVALID"),
        ([[InlineKeyboardButton("a", url="http://localhost:8000")]], "Wrong HTTP URL"),
        ([[InlineKeyboardButton("a")]], "Text buttons are unallowed"),
    ]:
        # PTB capitalizes Telegram's descriptions, lower-casing the rest.
        with pytest.raises(BadRequest, match=f"(?i){detail}"):
            await bot.send_message(42, "x", reply_markup=InlineKeyboardMarkup(markup))
    # A shape PTB can't produce, sent raw.
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{server.base_url}{server.token}/sendMessage",
            json={"chat_id": 42, "text": "x", "reply_markup": {"inline_keyboard": [{"text": "a"}]}},
        )
    assert response.status_code == 400
    assert "should be an Array of Arrays" in response.json()["description"]


async def test_edit_rules(bot: Bot, server: FakeBotApi) -> None:
    server.user(42)
    sent = await bot.send_message(42, "<b>Card</b>", "HTML", reply_markup=KEYBOARD)

    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("<b>Card</b>", 42, sent.message_id, parse_mode="HTML",
                                    reply_markup=KEYBOARD)  # fmt: skip
    # Same visible text and entities written differently is still "not modified".
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text(
            "<strong>Card</strong>", 42, sent.message_id, parse_mode="HTML", reply_markup=KEYBOARD
        )
    edited = await bot.edit_message_text("<b>Card</b>", 42, sent.message_id, parse_mode="HTML")
    assert not isinstance(edited, bool)
    assert edited.reply_markup is None and edited.edit_date is not None
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_reply_markup(42, sent.message_id, reply_markup=None)
    await bot.edit_message_reply_markup(42, sent.message_id, reply_markup=KEYBOARD)
    assert server.messages(42)[0].button_texts() == ["Yes", "No", "Open site"]
    assert len(server.messages(42)[0].history) == 2

    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", 42, 999)
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query("123")
    assert await bot.delete_message(42, sent.message_id)
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(42, sent.message_id)
    assert server.messages(42) == []
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(777, "who?")


async def test_unstarted_user_cannot_be_messaged(bot: Bot, server: FakeBotApi) -> None:
    server.user(5, started=False)
    with pytest.raises(Forbidden, match="can't initiate conversation"):
        await bot.send_message(5, "hello")


# ---- fault injection ------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_429_surfaces_as_retry_after(bot: Bot, server: FakeBotApi) -> None:
    server.user(42)
    fault = server.fail_next("sendMessage", status=429, retry_after=3)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(42, "hi")
    assert caught.value.retry_after == 3
    assert fault.hits == 1 and fault.exhausted and not server.faults
    await bot.send_message(42, "hi")
    assert [r.status for r in server.calls("sendMessage")] == [429, 200]


async def test_502_surfaces_as_network_error(bot: Bot, server: FakeBotApi) -> None:
    server.user(42)
    server.fail_next("sendMessage", status=502)  # an HTML page, as nginx would answer
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(42, "hi")
    server.fail_next("sendmessage", status=502, json_body=True)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(42, "hi")
    assert server.messages(42) == []


async def test_faults_by_chat_repeat_and_deliver(bot: Bot, server: FakeBotApi) -> None:
    server.user(1)
    server.user(2)
    server.fail_next(chat_id=2, status=500, times=None)
    await bot.send_message(1, "fine")
    for _ in range(2):
        with pytest.raises(NetworkError):
            await bot.send_message(2, "broken")
    server.clear_faults()
    # The call takes effect but the answer is lost, so a retry would duplicate the message.
    server.fail_next("sendMessage", status=502, deliver=True)
    with pytest.raises(NetworkError):
        await bot.send_message(2, "maybe sent")
    assert [m.text for m in server.messages(2)] == ["maybe sent"]

    server.slow_down("sendMessage", 0.05, times=1)
    started = time.monotonic()
    await bot.send_message(1, "slow")
    assert time.monotonic() - started >= 0.05


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_flood_control(bot: Bot, server: FakeBotApi) -> None:
    server.user(42)
    server.enable_flood_control(global_per_second=None, per_chat_per_second=2)
    await bot.send_message(42, "1")
    await bot.send_message(42, "2")
    with pytest.raises(RetryAfter):
        await bot.send_message(42, "3")


# ---- API surface ----------------------------------------------------------------------------


async def test_commands_are_stored_per_scope_and_language(bot: Bot, server: FakeBotApi) -> None:
    await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("help", "Help")])
    await bot.set_my_commands(
        [BotCommand("start", "Начать")], scope=BotCommandScopeAllPrivateChats(), language_code="ru"
    )
    await bot.set_my_commands([BotCommand("admin", "Admin panel")], scope=BotCommandScopeChat(99))

    assert server.commands() == [("start", "Start"), ("help", "Help")]
    assert server.commands({"type": "all_private_chats"}, "ru") == [("start", "Начать")]
    assert server.commands({"type": "chat", "chat_id": 99}) == [("admin", "Admin panel")]
    assert server.commands("all_private_chats") == []
    assert server.effective_commands(5, "ru") == [("start", "Начать")]
    assert server.effective_commands(5, "en") == [("start", "Start"), ("help", "Help")]
    assert server.effective_commands(99, "ru") == [("admin", "Admin panel")]

    fetched = await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats(), language_code="ru")
    assert [(c.command, c.description) for c in fetched] == [("start", "Начать")]
    await bot.delete_my_commands()
    assert server.commands() == [] and await bot.get_my_commands() == ()
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Start", "Upper case")])


async def test_get_updates_long_poll_offset_and_limit(bot: Bot, server: FakeBotApi) -> None:
    user = server.user(42)
    for text in ("one", "two", "three"):
        await user.send(text, wait=False)
    first = await bot.get_updates(limit=2)
    assert [u.message.text for u in first if u.message] == ["one", "two"]
    rest = await bot.get_updates(offset=first[-1].update_id + 1)
    assert [u.message.text for u in rest if u.message] == ["three"]
    assert len(server.pending_updates) == 1  # confirmed only by the next offset

    # A long poll returns as soon as an update arrives.
    poll = asyncio.create_task(bot.get_updates(offset=rest[-1].update_id + 1, timeout=10))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await user.send("four", wait=False)
    updates = await poll
    assert time.monotonic() - started < 0.5
    assert [u.message.text for u in updates if u.message] == ["four"]
    assert updates[0].message is not None and updates[0].message.from_user is not None
    assert updates[0].message.from_user.language_code is None


async def test_newer_poll_terminates_older_one_with_conflict(bot: Bot, server: FakeBotApi) -> None:
    older = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.05)
    async with Bot(server.token, base_url=server.base_url) as second_instance:
        assert await second_instance.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates"):
        await older


async def test_stop_releases_pending_long_polls(server: FakeBotApi, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await server.stop()
    assert await poll == ()
    assert time.monotonic() - started < 1.5


async def test_raw_http_protocol(server: FakeBotApi) -> None:
    server.user(42)
    base = f"{server.base_url}{server.token}"
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{base}/getMe")
        assert response.json() == {"ok": True, "result": server.bot_user}

        response = await http.post(
            f"{base}/SENDMESSAGE",
            json={"chat_id": 42, "text": "json", "reply_markup": {"inline_keyboard": []}},
        )
        assert response.json()["result"]["text"] == "json"

        form = {"chat_id": "42", "text": "form", "reply_markup": json.dumps(KEYBOARD.to_dict())}
        response = await http.post(f"{base}/sendMessage", data=form)
        assert response.json()["result"]["reply_markup"] == KEYBOARD.to_dict()

        response = await http.get(f"{base}/sendMessage", params={"chat_id": 42, "text": "query"})
        assert response.json()["ok"] is True

        response = await http.post(
            f"{base}/sendDocument",
            data={"chat_id": "42", "caption": "multipart"},
            files={"document": ("a.txt", b"hello", "text/plain")},
        )
        file_path = response.json()["result"]["document"]["file_id"]
        assert server.file(file_path).data == b"hello"

        response = await http.post(f"{base}/noSuchMethod")
        assert response.status_code == 404
        assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}

        response = await http.post(f"{server.base_url}1:wrong/getMe")
        assert response.status_code == 401

    assert [m.text for m in server.messages(42)] == ["json", "form", "query", None]
    assert server.messages(42)[-1].caption == "multipart"
    assert [r.method for r in server.requests] == [
        "getMe",
        "sendMessage",
        "sendMessage",
        "sendMessage",
        "sendDocument",
        "noSuchMethod",
        "getMe",
    ]
    assert server.requests[2].params["reply_markup"] == KEYBOARD.to_dict()
    assert server.requests[2].chat_id == 42
    assert server.requests[4].files == {"document": ("a.txt", 5)}
    times = [r.time for r in server.requests]
    assert times == sorted(times)


async def test_get_chat_and_webhook_info(bot: Bot, server: FakeBotApi) -> None:
    server.user(42, "Ivan", last_name="Petrov", username="ivan")
    chat = await bot.get_chat(42)
    assert (chat.first_name, chat.last_name, chat.username, chat.type) == (
        "Ivan",
        "Petrov",
        "ivan",
        "private",
    )
    await bot.set_webhook("https://crm.example.com/hook")
    assert (await bot.get_webhook_info()).url == "https://crm.example.com/hook"
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    await bot.delete_webhook()
    assert (await bot.get_webhook_info()).url == ""
    assert await bot.close()


async def test_a_slow_handler_is_waited_for_even_when_silence_is_allowed() -> None:
    """While the runner tracks processing, the client waits for the update, not for silence."""
    import asyncio

    from telegram.ext import MessageHandler, filters

    from bot.sandbox import FakeBotApi, running_application

    async def slow(update, context) -> None:  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.3)
        await update.effective_chat.send_message("done")

    async with FakeBotApi() as server:
        app = server.application_builder().build()
        app.add_handler(MessageHandler(filters.TEXT, slow))
        async with running_application(app, server):
            reply = await server.user(5, "Slow").send("hi", expect_reply=False)
    assert reply.text == "done"
