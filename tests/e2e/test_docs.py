"""The docs stay true to the code: the configuration reference is generated from the
config table, every command the README and docs/cli.md name exists and has --help."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))
from dmptest import *  # noqa: E402,F401,F403


def test_configuration_md_is_generated_from_the_table():
    r = cli("serve", "--help-config")
    eq(r.returncode, 0, "help-config exit")
    with open(os.path.join(SOURCE, "docs", "configuration.md")) as f:
        doc = f.read()
    if doc != r.stdout:
        raise AssertionError("docs/configuration.md is stale: regenerate it with "
                             "'build/dmp serve --help-config > docs/configuration.md'")


def test_every_documented_command_exists():
    r = cli("--help")
    eq(r.returncode, 0, "dmp --help")
    listed = set(re.findall(r"^  (\w+) ", r.stdout, re.M))
    with open(os.path.join(SOURCE, "docs", "cli.md")) as f:
        doc = f.read()
    with open(os.path.join(SOURCE, "README.md")) as f:
        readme = f.read()
    named = set(re.findall(r"`dmp (\w+)", doc)) | set(re.findall(r"build/dmp (\w+)", readme))
    missing = named - listed
    assert not missing, "documented but not in 'dmp --help': %s" % sorted(missing)
    for c in sorted(listed):
        r = cli(c, "--help")
        eq(r.returncode, 0, "dmp %s --help exit" % c)
        assert "usage" in (r.stdout + r.stderr).lower(), "dmp %s --help has no usage" % c


if __name__ == "__main__":
    run(globals())
