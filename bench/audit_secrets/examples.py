#!/usr/bin/env python3
"""Writes secret examples for the providers `moat audit secrets` claims,
modelled on gitleaks' rules (their token formats, written here from the
documented regular expressions; no gitleaks code or data is copied): for each
rule a set of true positives in the assignment shapes gitleaks' tests use
(Python, Go, YAML, JSON, .env, shell, XML, properties, a bare token) and a set
of negatives (wrong lengths, placeholders, look-alike prefixes).

    examples.py OUTDIR [SEED]   writes OUTDIR/tp/RULE/*.txt, OUTDIR/fp/RULE/*.txt
                                and OUTDIR/expect.json (file -> gitleaks rule id)
"""
import json
import os
import random
import string
import sys

out = sys.argv[1]
rnd = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 20261207)
AN = string.ascii_letters + string.digits
UP = string.ascii_uppercase + string.digits
HEX = "0123456789abcdef"
B32 = string.ascii_uppercase + "234567"


def r(chars, n):
    return "".join(rnd.choice(chars) for _ in range(n))


def b64url(n):
    return r(AN + "-_", n)


def jwt():
    import base64
    enc = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    head = enc(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = enc(json.dumps({"sub": r(string.digits, 10), "name": r(string.ascii_lowercase, 8),
                           "iat": 1516239022}).encode())
    return "%s.%s.%s" % (head, body, b64url(43))


def pem():
    lines = [r(AN + "+/", 64) for _ in range(6)]
    return "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END RSA PRIVATE KEY-----"


# gitleaks rule id -> (moat provider family, [token generators])
RULES = {
    "aws-access-token": ("aws", [lambda: rnd.choice(["AKIA", "ASIA", "ABIA", "ACCA"]) + r(B32, 16),
                                 lambda: "A3T" + r(UP, 1) + r(B32, 16)]),
    "gcp-api-key": ("gcp", [lambda: "AIza" + r(AN + "-_", 35)]),
    "github-pat": ("github", [lambda: "ghp_" + r(AN, 36)]),
    "github-oauth": ("github", [lambda: "gho_" + r(AN, 36)]),
    "github-app-token": ("github", [lambda: rnd.choice(["ghu_", "ghs_"]) + r(AN, 36)]),
    "github-refresh-token": ("github", [lambda: "ghr_" + r(AN, 36)]),
    "github-fine-grained-pat": ("github", [lambda: "github_pat_" + r(AN + "_", 82),
                                           lambda: "github_pat_" + r(AN, 22) + "_" + r(AN, 59)]),
    "gitlab-pat": ("gitlab", [lambda: "glpat-" + r(AN + "_-", 20)]),
    "gitlab-pat-routable": ("gitlab", [lambda: "glpat-" + r(AN + "_-", 27) + "." + r(HEX, 2) + r(string.ascii_lowercase + string.digits, 7)]),
    "gitlab-ptt": ("gitlab", [lambda: "glptt-" + r(HEX, 40)]),
    "gitlab-rrt": ("gitlab", [lambda: "GR1348941" + r(AN + "_-", 20)]),
    "gitlab-deploy-token": ("gitlab", [lambda: "gldt-" + r(AN + "_-", 20)]),
    "gitlab-feed-token": ("gitlab", [lambda: "glft-" + r(AN + "_-", 20)]),
    "gitlab-runner-authentication-token": ("gitlab", [lambda: "glrt-" + r(AN + "_-", 20)]),
    "gitlab-scim-token": ("gitlab", [lambda: "glsoat-" + r(AN + "_-", 20)]),
    "gitlab-incoming-mail-token": ("gitlab", [lambda: "glimt-" + r(AN + "_-", 25)]),
    "gitlab-kubernetes-agent-token": ("gitlab", [lambda: "glagent-" + r(AN + "_-", 50)]),
    "gitlab-oauth-app-secret": ("gitlab", [lambda: "gloas-" + r(AN + "_-", 64)]),
    "gitlab-cicd-job-token": ("gitlab", [lambda: "glcbt-" + r(HEX, 2) + "_" + r(AN + "_-", 20)]),
    "gitlab-feature-flag-client-token": ("gitlab", [lambda: "glffct-" + r(AN + "_-", 20)]),
    "slack-bot-token": ("slack", [lambda: "xoxb-" + r(string.digits, 12) + "-" + r(string.digits, 13) + "-" + r(AN, 24)]),
    "slack-user-token": ("slack", [lambda: "xoxp-" + "-".join(r(string.digits, 12) for _ in range(3)) + "-" + r(HEX, 32)]),
    "slack-app-token": ("slack", [lambda: "xapp-1-" + r(UP, 11) + "-" + r(string.digits, 13) + "-" + r(HEX, 64)]),
    "slack-config-access-token": ("slack", [lambda: "xoxe.xoxp-1-" + r(AN, 164)]),
    "slack-config-refresh-token": ("slack", [lambda: "xoxe-1-" + r(AN, 146)]),
    "slack-legacy-bot-token": ("slack", [lambda: "xoxb-" + r(string.digits, 10) + "-" + r(AN, 24)]),
    "slack-legacy-workspace-token": ("slack", [lambda: rnd.choice(["xoxa-", "xoxr-"]) + rnd.choice(["", "2-"]) + r(AN, 32)]),
    "slack-legacy-token": ("slack", [lambda: rnd.choice(["xoxo-", "xoxs-"]) + "-".join(r(string.digits, 10) for _ in range(3)) + "-" + r(HEX, 40)]),
    "slack-webhook-url": ("slack-webhook", [
        lambda: "https://hooks.slack.com/services/T" + r(UP, 8) + "/B" + r(UP, 10) + "/" + r(AN, 24),
        lambda: "https://hooks.slack.com/workflows/T" + r(UP, 8) + "/A" + r(UP, 10) + "/" + r(string.digits, 18) + "/" + r(AN, 24),
        lambda: "https://hooks.slack.com/triggers/T" + r(UP, 8) + "/" + r(string.digits, 13) + "/" + r(HEX, 32)]),
    "stripe-access-token": ("stripe", [lambda: rnd.choice(["sk_live_", "rk_live_", "sk_test_", "rk_test_", "sk_prod_"]) + r(AN, rnd.choice([24, 34, 99]))]),
    "sendgrid-api-token": ("sendgrid", [lambda: "SG." + r(AN + "-_", 22) + "." + r(AN + "-_", 43)]),
    "twilio-api-key": ("twilio", [lambda: "SK" + r(HEX, 32)]),  # real SIDs are lower-case hex
    "jwt": ("jwt", [jwt]),
    "private-key": ("private-key", [pem]),
}

# Assignment shapes (gitleaks' generated test cases write a secret in many
# languages' syntax); {n} is a name that says what the value is.
SHAPES = [
    ("py", '{n} = "{s}"\n'),
    ("go", 'var {n} string = "{s}"\n'),
    ("go", '{n} := "{s}"\n'),
    ("yaml", "{n}: {s}\n"),
    ("json", '{{"{n}": "{s}"}}\n'),
    ("env", "{N}={s}\n"),
    ("sh", "export {N}='{s}'\n"),
    ("xml", "<{n}>{s}</{n}>\n"),
    ("properties", "{n}={s}\n"),
    ("txt", "{s}\n"),
]
NAMES = {"aws": "aws_access_key_id", "gcp": "google_api_key", "github": "github_token",
         "gitlab": "gitlab_token", "slack": "slack_token", "slack-webhook": "slack_webhook",
         "stripe": "stripe_key", "sendgrid": "sendgrid_api_key", "twilio": "twilio_api_key",
         "jwt": "auth_jwt", "private-key": "private_key"}

# Negatives: gitleaks' false-positive examples are wrong lengths, look-alike
# prefixes inside words, placeholders and documentation strings.
NEGATIVES = {
    "aws-access-token": ["AKIAXXXXXXXXXXXXXXXX", "AKIA" + "EXAMPLE" + "EXAMPLE12", "notAKIA" + r(B32, 16) + "x",
                         "AKIA" + r(B32, 10)],
    "gcp-api-key": ["AIza" + r(AN, 20), "AIzaXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"],
    "github-pat": ["ghp_" + r(AN, 20), "ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "ghp_<your token here>"],
    "gitlab-pat": ["glpat-" + r(AN, 8), "glpat-XXXXXXXXXXXXXXXXXXXX"],
    "slack-bot-token": ["xoxb-XXXXXXXXXXXX-XXXXXXXXXXXXX-XXXXXXXXXXXXXXXXXXXXXXXX", "xoxb-your-token",
                        "xoxb-1234-abcd"],
    "slack-webhook-url": ["https://hooks.slack.com/services/XXX/YYY/ZZZ",
                          "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"],
    "stripe-access-token": ["sk_live_xxxxxxxxxxxxxxxxxxxxxxxx", "sk_live_" + r(AN, 5), "pk_live_" + r(AN, 24)],
    "sendgrid-api-token": ["SG.xxxxxxxxxxxxxxxxxxxxxx.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "SG." + r(AN, 10)],
    "twilio-api-key": ["SK" + r(HEX, 20), "SKXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"],
    "jwt": ["eyJhbGciOiJIUzI1NiJ9.e30", "ey" + r(AN, 10) + ".ey" + r(AN, 5)],
    "private-key": ["-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",
                    "-----BEGIN PUBLIC KEY-----\n" + r(AN, 64) + "\n-----END PUBLIC KEY-----"],
}

expect = {}
for rule, (family, gens) in RULES.items():
    d = os.path.join(out, "tp", rule)
    os.makedirs(d, exist_ok=True)
    n = 0
    for gen in gens:
        for ext, shape in SHAPES:
            if "\n" in (s := gen()) and ext in ("json", "env", "sh", "xml", "properties", "yaml", "go"):
                continue  # a PEM block only in a file or a Python string
            name = NAMES[family]
            if "\n" in s:
                text = '%s = """%s"""\n' % (name, s) if ext == "py" else s + "\n"
            else:
                text = shape.format(n=name, N=name.upper(), s=s)
            p = os.path.join(d, "%02d.%s" % (n, ext))
            with open(p, "w") as f:
                f.write(text)
            expect[os.path.relpath(p, out)] = {"rule": rule, "family": family, "secret": s}
            n += 1
for rule, negs in NEGATIVES.items():
    d = os.path.join(out, "fp", rule)
    os.makedirs(d, exist_ok=True)
    for i, s in enumerate(negs):
        p = os.path.join(d, "%02d.txt" % i)
        with open(p, "w") as f:
            f.write("example = %r\n" % s)
        expect[os.path.relpath(p, out)] = {"rule": None, "family": RULES[rule][0]}
with open(os.path.join(out, "expect.json"), "w") as f:
    json.dump(expect, f, indent=1, sort_keys=True)
