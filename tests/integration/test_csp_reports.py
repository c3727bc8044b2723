"""CSP violation reports are anyone's to post, so their logging is bounded:
a flood from one address (or many) cannot rotate real events out of the
security log. The limit is 20 logged reports per address per minute and 200
in all (docs/events.md); the rest are answered 204 and counted."""

import json

from helpers import Conn

REPORT = (b'{"csp-report":{"document-uri":"http://x/page",'
          b'"violated-directive":"script-src-elem","blocked-uri":"inline"}}')


def events(path):
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_csp_report_flood_is_not_logged_past_the_limit(tmp_path, moat, echo):
    seclog = tmp_path / "security.log"
    m = moat(echo.url(), log={"security": str(seclog)})
    with Conn(m.port) as c:
        for _ in range(300):
            r = c.request("POST", "/.moat/csp-report", body=REPORT,
                          headers={"Content-Type": "application/csp-report"})
            assert r.status == 204
        # a real event after the flood is still recorded
        r = c.request("GET", "/.git/config")
        assert r.status == 404
        rid = r.header("X-Request-Id")
    assert m.stop() == 0
    evs = events(seclog)
    names = [e["event"] for e in evs]
    assert names.count("csp.violation") == 20, names.count("csp.violation")
    assert names.count("csp.suppressed") == 1
    assert [e for e in evs if e.get("request_id") == rid and e["event"] == "path.denied"], evs[-3:]
