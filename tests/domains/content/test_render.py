"""Personalisation templates: safe defaults, whitelisted fields, autoescape, and injection attempts refused."""

from __future__ import annotations

import time

import pytest

from siyu.domains.content.render import MAX_OUTPUT, check, render
from siyu.errors import SiyuError


def test_defaults_and_whitelisted_fields() -> None:
    assert render('你好 {{ name | default("亲") }}!', {}) == "你好 亲!"
    assert render('你好 {{ name | default("亲") }}!', {"name": "小王"}) == "你好 小王!"
    assert render("{{ name }}", {"name": ""}) == ""  # empty counts as absent
    # a field outside the whitelist is never visible, even when the caller passes it
    assert render("[{{ phone }}][{{ secret.key }}]", {"phone": "13800000000", "secret": {"key": "x"}}) == "[][]"
    assert render("{% if stage == 'loyalty' %}老朋友{% else %}新朋友{% endif %}", {"stage": "loyalty"}) == "老朋友"
    assert render("{% for t in range(3) %}{{ t }}{% endfor %}", {}) == "012"


def test_html_bodies_escape_customer_values() -> None:
    assert render("<p>{{ name }}</p>", {"name": "<script>x</script>"}, html=True) == \
        "<p>&lt;script&gt;x&lt;/script&gt;</p>"
    assert render("{{ name }}", {"name": "<b>"}) == "<b>"  # plain text is not HTML


@pytest.mark.parametrize("source", [
    "{{ cycler.__init__.__globals__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ name.__class__ }}",
    "{{ range.__globals__ }}",
    "{{ self.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ 'a' * 100000000 }}",
    "{{ [1] * 100000000 }}",
    "{{ 9 ** 999999 }}",
    "{{ '%0999999999d' % 1 }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ name.ljust(999999999) }}",
    "{% for i in range(1000000) %}{% endfor %}",
    "{% for a in range(100) %}{% for b in range(100) %}{{ 'xxxxx' }}{% endfor %}{% endfor %}",
])
def test_injection_attempts_fail_safely(source: str) -> None:
    started = time.perf_counter()
    with pytest.raises(SiyuError) as info:
        render(source, {"name": "王"})
    assert info.value.code in ("template_unsafe", "invalid_template")
    assert info.value.status == 422
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(("source", "line"), [
    ("line one\nline two\n{{ name | }}", 3),
    ("ok\n{{ name | center(9) }}", 2),  # a filter outside the whitelist is a syntax error at its line
    ("{{ name | attr('__class__') }}", 1),
])
def test_bad_syntax_is_refused_with_its_line(source: str, line: int) -> None:
    with pytest.raises(SiyuError) as info:
        check(source)
    assert info.value.code == "invalid_template"
    assert info.value.details["line"] == line
    assert f"line {line}" in info.value.message


def test_deep_loops_and_long_sources_are_refused() -> None:
    deep = "{% for a in range(2) %}{% for b in range(2) %}{% for c in range(2) %}{% endfor %}{% endfor %}{% endfor %}"
    with pytest.raises(SiyuError, match="nest"):
        check(deep)
    with pytest.raises(SiyuError, match="at most"):
        check("x" * (MAX_OUTPUT + 1))
