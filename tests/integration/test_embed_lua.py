"""test_embed_lua.py -- scripts/embed-lua.sh embeds the broker's Lua scripts byte
for byte: the C table's text is each file with its "-- include:" lines expanded,
its length and SHA1 (the name EVALSHA calls it by) are those of that text."""
import hashlib
import os
import subprocess

from harness import ROOT

EMBED = os.path.join(ROOT, "scripts", "embed-lua.sh")
HEADER = """typedef enum { FRONTIER_LUA_ODD, FRONTIER_NSCRIPTS } frontier_lua;
typedef struct frontier_script { const char *name, *sha; unsigned long len; const char *text; } frontier_script;
extern const frontier_script frontier_scripts[FRONTIER_NSCRIPTS];
"""
MAIN = """#include <stdio.h>
#include "frontier_lua.h"
int main(void) {
    const frontier_script *s = &frontier_scripts[FRONTIER_LUA_ODD];
    printf("%s %s %lu\\n", s->name, s->sha, s->len);
    fwrite(s->text, 1, s->len, stdout);
    return 0;
}
"""


def test_text_length_and_sha1_are_the_files(tmp_path):
    lua = tmp_path / "lua"
    lua.mkdir()
    inc = "local q = 'it''s' -- \"quoted\", a \\\\ backslash, 100% and a tab:\t.\n"
    (lua / "_inc.lua").write_text(inc)
    body = "#!lua\n-- odd.lua -- \"%s\\n\" \\ in a comment\n-- include: _inc.lua\nreturn redis.call('GET', KEYS[1]) .. '\\\\'\n"
    (lua / "odd.lua").write_text(body)
    r = subprocess.run([EMBED, str(lua / "_inc.lua"), str(lua / "odd.lua")], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    (tmp_path / "gen.c").write_text(r.stdout)
    (tmp_path / "frontier_lua.h").write_text(HEADER)
    (tmp_path / "main.c").write_text(MAIN)
    exe = tmp_path / "show"
    subprocess.run(["cc", "-std=c11", "-Wall", "-Werror", "-I", str(tmp_path), "-o", str(exe), str(tmp_path / "gen.c"),
                    str(tmp_path / "main.c")], check=True, timeout=60)
    out = subprocess.run([str(exe)], capture_output=True, check=True, timeout=30).stdout
    head, text = out.split(b"\n", 1)
    want = body.replace("-- include: _inc.lua\n", inc).encode()
    assert text == want
    assert head.decode().split() == ["odd", hashlib.sha1(want).hexdigest(), str(len(want))]


def test_a_missing_include_fails(tmp_path):
    (tmp_path / "bad.lua").write_text("#!lua\n-- include: _gone.lua\nreturn 1\n")
    r = subprocess.run([EMBED, str(tmp_path / "bad.lua")], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "_gone.lua" in r.stderr, (r.returncode, r.stderr)
