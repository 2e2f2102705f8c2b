"""The 閲覧用URL check, by property: a URL staff are told to open passes exactly when it is
https, on the confirmation system's host (or under it, IDNA-encoded), with no user name,
no other port and no backslash; whatever else is in it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from daemon.checks import view_url_valid

SYSTEM = "sonpo-hosyou-syouken.jp"
GOOD_HOSTS = [SYSTEM, f"www.{SYSTEM}", f"A.B.{SYSTEM.upper()}", f"{SYSTEM}."]
BAD_HOSTS = [f"{SYSTEM}.evil.example", f"evil-{SYSTEM}", f"x{SYSTEM}", "evil.example",
             "sonpo-hosyou-syouken.jp.", "例え.jp", "127.0.0.1", ""]
BAD_HOSTS.remove("sonpo-hosyou-syouken.jp.")  # (a root dot is the same host)


@given(
    scheme=st.sampled_from(["https", "HTTPS", "Https", "http", "ftp", "javascript"]),
    user=st.sampled_from(["", "user@", "user:pw@", f"{SYSTEM}@", f"www.{SYSTEM}:443@"]),
    host=st.sampled_from(GOOD_HOSTS + BAD_HOSTS),
    port=st.sampled_from(["", ":443", ":8443", ":80", ":99999", ":x"]),
    path=st.text(alphabet="abcXYZ019/-_.~?=&#%@\\", max_size=24),
)
def test_the_url_check_is_exactly_the_rule(scheme: str, user: str, host: str, port: str,
                                           path: str) -> None:
    url = f"{scheme}://{user}{host}{port}/{path}"
    expected = (scheme.lower() == "https" and not user and host in GOOD_HOSTS
                and port in ("", ":443") and "\\" not in path)
    assert view_url_valid(url, [SYSTEM]) is expected, url


@given(st.text(max_size=80))
def test_no_text_makes_the_check_raise(text: str) -> None:
    assert view_url_valid(text, [SYSTEM]) in (True, False)
    assert view_url_valid(f"https://{text}", [SYSTEM]) in (True, False)
