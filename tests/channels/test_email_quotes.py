"""strip_quoted: reply text versus quoted history, in the forms mail clients write."""

from __future__ import annotations

import pytest

from sopdesk.channels.email_in import strip_quoted

QUOTE = "> Which size would you like?\n> Shop"


@pytest.mark.parametrize(
    "attribution",
    [
        "On Thu, Feb 5, 2026 at 10:00 AM Shop Support <support@shop.example> wrote:",
        "On 5 Feb 2026, at 10:00, Shop Support <support@shop.example> wrote:",
        "Am 05.02.2026 um 10:00 schrieb Shop Support <support@shop.example>:",
        "Shop Support <support@shop.example> schrieb am Do., 5. Feb. 2026, 10:00:",
        "Le jeu. 5 févr. 2026 à 10:00, Shop Support <support@shop.example> a écrit :",
        "El jue, 5 feb 2026 a las 10:00, Shop Support (<support@shop.example>) escribió:",
        "Op do 5 feb. 2026 om 10:00 schreef Shop Support <support@shop.example>:",
        "Shop Support <support@shop.example> schreef op 5 februari 2026 10:00:",
        "Il giorno gio 5 feb 2026 alle ore 10:00 Shop <support@shop.example> ha scritto:",
        "Em qui., 5 de fev. de 2026 às 10:00, Shop <support@shop.example> escreveu:",
        "Den tors 5 feb. 2026 kl 10:00 skrev Shop <support@shop.example>:",
    ],
)
def test_attribution_lines_in_several_languages(attribution):
    text = f"Size M please.\n\n{attribution}\n\n{QUOTE}\n"
    reply, quoted = strip_quoted(text)
    assert reply == "Size M please."
    assert quoted.startswith(attribution) and quoted.endswith("> Shop")


def test_attribution_wrapped_over_three_lines():
    text = (
        "Fine.\n\nOn Thu, Feb 5, 2026 at 10:00 AM Shop\nSupport <support@shop.example>\n"
        "wrote:\n> old"
    )
    assert strip_quoted(text)[0] == "Fine."


@pytest.mark.parametrize(
    "separator",
    [
        "-----Original Message-----",
        "----- Original Message -----",
        "-----Ursprüngliche Nachricht-----",
        "-----Message d'origine-----",
        "-----Mensaje original-----",
        "-----Oorspronkelijk bericht-----",
    ],
)
def test_outlook_separators(separator):
    text = f"Done, thanks.\n\n{separator}\nFrom: Shop\nSent: today\nSubject: x\n\nold text"
    reply, quoted = strip_quoted(text)
    assert reply == "Done, thanks."
    assert quoted.startswith(separator)


@pytest.mark.parametrize(
    "block",
    [
        "From: Shop <s@shop.example>\nSent: Thursday, February 5, 2026 10:00\nTo: Karen\n"
        "Subject: Re: return",
        "*From:* Shop <s@shop.example>\n*Sent:* Thursday\n*To:* Karen\n*Subject:* Re: return",
        "Von: Shop <s@shop.example>\nGesendet: Donnerstag, 5. Februar 2026 10:00\nAn: Karen\n"
        "Betreff: AW: Rücksendung",
        "De : Shop <s@shop.example>\nEnvoyé : jeudi 5 février 2026 10:00\nÀ : Karen\n"
        "Objet : RE: retour",
        "De: Shop <s@shop.example>\nEnviado el: jueves, 5 de febrero de 2026 10:00\nPara: Karen\n"
        "Asunto: RE: devolución",
        "Van: Shop <s@shop.example>\nVerzonden: donderdag 5 februari 2026 10:00\nAan: Karen\n"
        "Onderwerp: RE: retour",
    ],
)
def test_outlook_header_blocks(block):
    reply, quoted = strip_quoted(f"Label printed.\n\n{block}\n\nDear Karen, old text.")
    assert reply == "Label printed."
    assert quoted.endswith("Dear Karen, old text.")


def test_a_from_line_alone_is_not_a_quote_header():
    text = "From: my office I cannot print.\nCan you mail the label?"
    assert strip_quoted(text) == (text, "")


def test_interleaved_quotes_go_to_the_quote():
    text = "> Which size?\nM please.\n> Which colour?\nBlue."
    assert strip_quoted(text) == ("M please.\nBlue.", "> Which size?\n> Which colour?")


def test_signature_and_mobile_footer():
    assert strip_quoted("Yes.\n-- \nJane Doe\nACME")[0] == "Yes."
    assert strip_quoted("Yes.\n--\nJane")[0] == "Yes."
    assert strip_quoted("Yes.\n\nSent from my iPhone\n\n> old")[0] == "Yes."
    assert strip_quoted("Ja.\n\nVon meinem iPhone gesendet")[0] == "Ja."


def test_all_quote_keeps_whole_text():
    text = "> only\n> quoted"
    assert strip_quoted(text) == (text, "")
    assert strip_quoted("-- \nsig only") == ("-- \nsig only", "")


def test_bottom_posted_reply_is_found():
    text = "On Mon, Jan 5, 2026 at 9:00 Shop <s@shop.example> wrote:\n> question?\n\nMy answer."
    reply, quoted = strip_quoted(text)
    assert reply == "My answer."
    assert "> question?" in quoted


def test_forwarded_message_is_not_history():
    text = (
        "Please look at this.\n\n---------- Forwarded message ---------\n"
        "From: Bank <b@bank.example>\nDate: Mon\nSubject: Refund\nTo: me\n\nRefund failed."
    )
    assert strip_quoted(text) == (text, "")


def test_plain_text_without_quotes_is_untouched():
    text = "Hello,\n\nOn Monday I ordered a lamp.\nIt wrote nothing on the box.\n\nThanks"
    assert strip_quoted(text) == (text, "")


def test_crlf_and_empty_input():
    assert strip_quoted("Ok.\r\n\r\n> old\r\n") == ("Ok.", "> old")
    assert strip_quoted("") == ("", "")
