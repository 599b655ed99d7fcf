from statushub.lib.markdown import render_markdown


def test_it_renders_common_markdown():
    html = render_markdown("**Refunds** are automatic.\n\n- one\n- two\n\n[details](https://example.com/x)")
    assert "<strong>Refunds</strong>" in html
    assert "<li>one</li>" in html
    assert 'href="https://example.com/x"' in html
    assert 'rel="noopener noreferrer nofollow"' in html


def test_it_neutralises_html_and_script_links():
    html = render_markdown('<img src=x onerror=alert(1)> [click](javascript:alert(1)) <b onclick="x">hi</b>')
    assert "<img" not in html
    assert "onerror" not in html.replace("&lt;img src=x onerror=alert(1)&gt;", "")
    assert 'href="javascript' not in html
    assert "<a" not in html
    assert "<b " not in html


def test_headings_do_not_outrank_the_page():
    assert render_markdown("# Big") == "<h3>Big</h3>\n"
