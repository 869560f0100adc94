"""HTML bodies: text extraction and sanitising for display."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sopdesk.channels.email_in import html_to_text, sanitise_html


def test_text_skips_scripts_styles_and_head():
    html = (
        "<html><head><title>T</title><style>p{color:red}</style></head><body>"
        "<script>alert(1)</script><p>Hi &amp; welcome&nbsp;!</p><noscript>x</noscript></body>"
    )
    assert html_to_text(html) == "Hi & welcome !"


def test_text_structure():
    html = "<h1>Order</h1><p>Line one<br>Line two</p><ul><li>a</li><li>b</li></ul><div>end</div>"
    assert html_to_text(html) == "Order\n\nLine one\nLine two\n\n- a\n- b\n\nend"


def test_blockquotes_become_quote_marks():
    html = "<p>New</p><blockquote>Old<blockquote>Older</blockquote></blockquote>"
    assert html_to_text(html) == "New\n\n> Old\n>\n> > Older"


def test_pre_keeps_line_breaks():
    assert html_to_text("<pre>a\n  b</pre>") == "a\n  b"


def test_unclosed_and_broken_markup():
    assert html_to_text("<p>open <b>bold <i>it") == "open bold it"
    assert html_to_text("<!-- c --><p>ok</p><").startswith("ok")
    assert html_to_text("<script>never closed") == ""


def test_deep_nesting_is_bounded():
    text = html_to_text("<blockquote>" * 5000 + "deep")
    assert text.startswith("> " * 8) and text.endswith("deep") and len(text) < 40


def test_sanitise_removes_active_content():
    dirty = (
        '<p onclick="steal()">Hi</p><script>alert(1)</script>'
        '<a href="javascript:alert(1)">x</a><a href="https://ok.example">ok</a>'
        '<iframe src="https://evil.example"></iframe><form><input name=p></form>'
    )
    clean = sanitise_html(dirty)
    for bad in ("onclick", "<script", "javascript:", "<iframe", "<input", "alert"):
        assert bad not in clean
    assert 'href="https://ok.example"' in clean
    assert 'rel="noopener noreferrer nofollow"' in clean


def test_sanitise_blocks_remote_images_unless_allowed():
    html = '<img src="https://tracker.example/p.gif"><img src="cid:logo@x">'
    assert "tracker" not in sanitise_html(html)
    assert 'src="cid:logo@x"' in sanitise_html(html)
    assert "tracker" in sanitise_html(html, allow_remote_images=True)


def test_sanitise_filters_styles():
    clean = sanitise_html(
        '<span style="color: red; position: fixed; background-image: url(https://t.example)">x</span>'
    )
    assert "color:red" in clean.replace(" ", "")
    assert "position" not in clean and "url(" not in clean


def test_sanitise_tolerates_surrogates_and_nul():
    assert sanitise_html("<p>a\udcff\x00b</p>") == "<p>a\ufffdb</p>"


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>/=\"' abpdivscrtqulemn&#;!-\n")), max_size=300))
def test_html_functions_never_raise(markup):
    assert isinstance(html_to_text(markup), str)
    assert "<script" not in sanitise_html(markup).lower()


def test_text_falls_back_to_tag_stripping_if_the_tokeniser_fails(monkeypatch):
    from sopdesk.channels.email_in import html_body

    def explode(self, data):
        raise AssertionError("tokeniser bug")

    monkeypatch.setattr(html_body._TextExtractor, "feed", explode)
    assert html_to_text("<p>a &amp; b</p>\n<div>c</div>") == "a & b\nc"
