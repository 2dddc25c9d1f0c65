"""SpamAssassin's shipped .cf rules read into Python: the body, rawbody, Subject-header, uri
and meta rules with their scores, the Perl regexes translated to Python `re` (bytes).

Used by bench/spam_rules_experiment.py (and the generator of the shipped rule file) so a rule
set that other people wrote and scored on other mail can be tried on our corpora without
training on any of them. SpamAssassin matches bytes (UTF-8 encoded text, see
Mail::SpamAssassin::Message::get_body_text_array_common), so the patterns are compiled as bytes
patterns: `\\w`, `\\d` and `/i` are ASCII, as in SA on encoded text.

What is read, as Mail::SpamAssassin::Conf documents it:
* files in lexical order; a later definition of a name replaces an earlier one;
* `ifplugin`, `if (...)`, `else`, `endif` against the plugins /etc/spamassassin/*.pre loads
  in Debian's 4.0.1 package (version 4.000001);
* `score NAME s0 [s1 s2 s3]`: set 0 (no Bayes, no network) is the first column; a rule
  without a score gets 1.0, 0.01 when named T_*, none when named __*; score 0 disables it;
* `tflags`: `net` and `learn` rules do not run locally (skipped), `multiple`/`maxhits=N` count;
* ReplaceTags (`replace_tag`, `replace_inter`, `replace_pre`, `replace_post`, `replace_rules`);
* `lang xx ...` lines are skipped (they only apply under that locale).
Eval rules (`eval:...`), `full`, `mimeheader` and headers other than Subject are counted, not kept.
"""

from __future__ import annotations

import itertools
import re
import re._constants as _c  # the parsed form of a pattern, for the literal prefilter
import re._parser as _p
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

RULES_DIR = Path("/usr/share/spamassassin")
PRE_DIR = Path("/etc/spamassassin")
SA_VERSION = 4.000001
PERL_VERSION = 5.036
KINDS = ("body", "rawbody", "header", "uri", "meta", "full", "mimeheader")
MAX_HITS = 1000  # `tflags multiple` without maxhits: SA counts every match


@dataclass
class Rule:
    name: str
    kind: str  # body, rawbody, subject, uri, meta
    source: str  # the Perl pattern (or meta expression) as written
    flags: str = ""
    negate: bool = False  # header `Subject !~ /.../`
    pattern: re.Pattern[bytes] | None = None
    meta: str = ""  # the meta expression translated to Python
    deps: tuple[str, ...] = ()
    maxhits: int = 1  # >1: `tflags multiple`, the rule's value is its match count
    file: str = ""


@dataclass
class RuleSet:
    rules: dict[str, Rule] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    tflags: dict[str, set[str]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)  # what was read, translated, skipped and why

    def score(self, name: str) -> float:
        """Score set 0 of a rule, with Conf.pm's defaults for rules given none."""
        if name in self.scores:
            return self.scores[name]
        if name.startswith("__"):
            return 0.0
        return 0.01 if name.startswith("T_") else 1.0


def loaded_plugins(pre_dir: Path = PRE_DIR) -> set[str]:
    """The plugins the installed *.pre files load: what `ifplugin` tests against."""
    out = set()
    for p in sorted(pre_dir.glob("*.pre")):
        for line in p.read_text(encoding="latin-1").splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "loadplugin":
                out.add(parts[1])
    return out


def _if_true(expr: str, plugins: set[str]) -> bool:
    """Evaluates the small language of `if (...)` lines: plugin(), can(), version, &&, ||, !."""
    e = re.sub(r"plugin\(\s*([\w:]+)\s*\)", lambda m: str(m.group(1) in plugins), expr)
    e = re.sub(r"can\(\s*([\w:]+)\s*\)", "True", e)
    e = re.sub(r"\bperl_version\b", str(PERL_VERSION), e)
    e = re.sub(r"\bversion\b", str(SA_VERSION), e)
    e = e.replace("&&", " and ").replace("||", " or ")
    e = re.sub(r"!(?!=)", " not ", e)
    try:
        return bool(eval(e, {"__builtins__": {}}, {}))  # noqa: S307 - the expression is from the .cf files only
    except Exception:
        return False


def _strip_comment(line: str) -> str:
    """Conf::Parser: an unescaped `#` starts a comment; `\\#` is a literal `#`."""
    return re.sub(r"(?<!\\)#.*$", "", line).replace("\\#", "#").strip()


_DELIMS = {"{": "}", "(": ")", "<": ">", "[": "]"}


def split_regex(text: str) -> tuple[str, str] | None:
    """`/re/flags` or `m{re}flags` into (re, flags), as SA's parser takes them."""
    text = text.strip()
    if text.startswith("m") and len(text) > 1 and not text[1].isalnum() and not text[1].isspace():
        text = text[1:]
    if not text:
        return None
    open_ = text[0]
    close = _DELIMS.get(open_, open_)
    if open_.isalnum():
        return None
    m = re.match(r"^(.*)" + re.escape(close) + r"([a-z]*)$", text[1:], re.S)
    if not m:
        return None
    return m.group(1), m.group(2)


_POSIX = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z", "lower": "a-z",
    "space": r"\s", "punct": r"!-/:-@\[-`{-~", "xdigit": "0-9A-Fa-f", "word": r"\w",
    "cntrl": r"\x00-\x1f\x7f", "print": r"\x20-\x7e", "graph": r"\x21-\x7e", "blank": r" \t",
}
# escapes Python's re knows in bytes patterns with the meaning Perl gives them
_SAME = set("dDsSwWbBAntrfav0123456789")


class Untranslatable(ValueError):
    """A Perl construct with no Python `re` equivalent (the reason is a short safe label)."""


def translate(perl: str) -> str:
    """A Perl regex as a Python `re` pattern of the same meaning on bytes, or Untranslatable."""
    out: list[str] = []
    i, n = 0, len(perl)
    in_class = False
    class_start = 0
    while i < n:
        c = perl[i]
        if c == "\\" and i + 1 < n:
            d = perl[i + 1]
            i += 2
            if d in _SAME:
                out.append("\\" + d)
            elif d == "z":
                out.append(r"\Z")
            elif d == "Z":
                out.append(r"(?=\n?\Z)")
            elif d == "h":
                out.append(r" \t" if in_class else r"[ \t]")
            elif d == "H" and not in_class:
                out.append(r"[^ \t]")
            elif d == "N" and not in_class and (i >= n or perl[i] != "{"):
                out.append(r"[^\n]")
            elif d == "e":
                out.append(r"\x1b")
            elif d == "x":
                if i < n and perl[i] == "{":
                    j = perl.index("}", i)
                    v = int(perl[i + 1:j] or "0", 16)
                    if v > 0xFF:
                        raise Untranslatable("wide \\x{}")
                    out.append(f"\\x{v:02x}")
                    i = j + 1
                else:
                    m = re.match(r"[0-9A-Fa-f]{1,2}", perl[i:])
                    h = m.group(0) if m else ""
                    out.append(f"\\x{int(h or '0', 16):02x}")
                    i += len(h)
            elif d == "k" and i < n and perl[i] in "<{'":
                end = {"<": ">", "{": "}", "'": "'"}[perl[i]]
                j = perl.index(end, i + 1)
                out.append(f"(?P={perl[i + 1:j]})")
                i = j + 1
            elif d == "g":
                m = re.match(r"\{?(\d+)\}?", perl[i:])
                if not m:
                    raise Untranslatable("\\g")
                out.append("\\" + m.group(1))
                i += len(m.group(0))
            elif d.isalpha():
                if d in "KGQEpPXCRvVHlLuUco":
                    raise Untranslatable(f"\\{d}")
                out.append(d)  # Perl: an unknown letter escape is the letter
            else:
                out.append("\\" + d)
            continue
        if in_class:
            if c == "[" and perl[i:i + 2] == "[:":
                j = perl.find(":]", i + 2)
                if j < 0:
                    raise Untranslatable("posix class")
                name = perl[i + 2:j]
                neg = name.startswith("^")
                if neg or name not in _POSIX:
                    raise Untranslatable("posix class")
                out.append(_POSIX[name])
                i = j + 2
                continue
            if c == "[":
                out.append(r"\[")
            elif c == "]" and i > class_start:
                in_class = False
                out.append("]")
            else:
                out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append("[")
            i += 1
            if i < n and perl[i] == "^":
                out.append("^")
                i += 1
            class_start = i  # a `]` right here is a literal
            if i < n and perl[i] == "]":
                out.append(r"\]")
                i += 1
            continue
        if c == "(" and perl[i:i + 2] == "(?":
            rest = perl[i + 2:]
            if rest.startswith("<") and not rest.startswith(("<=", "<!")):
                out.append("(?P<")
                i += 3
                continue
            if rest.startswith("'"):
                j = perl.index("'", i + 3)
                out.append(f"(?P<{perl[i + 3:j]}>")
                i = j + 1
                continue
            if rest.startswith(("^", "|", "&", "R", "+", "0", "1", "2", "3", "{", "?{", "(")):
                raise Untranslatable("(?" + rest[:1])
            m = re.match(r"([a-z]*)(-[a-z]*)?([:)])", rest)
            if m and (m.group(1) or m.group(2)):
                on, off, end = m.group(1), (m.group(2) or "")[1:], m.group(3)
                keep_on = "".join(f for f in on if f in "imsx")
                keep_off = "".join(f for f in off if f in "imsx")
                if end == ")" and (out or keep_off):
                    raise Untranslatable("inline flags mid-pattern")
                spec = keep_on + ("-" + keep_off if keep_off else "")
                out.append(f"(?{spec}{end}" if spec else ("(?:" if end == ":" else ""))
                i += 2 + len(m.group(0))
                continue
        out.append(c)
        i += 1
    return "".join(out)


def compile_perl(perl: str, flags: str, multiline: bool = False) -> re.Pattern[bytes]:
    """A compiled bytes pattern for a Perl regex and its modifiers (i, s, m, x; others ignored)."""
    f = 0
    for ch, v in (("i", re.I), ("s", re.S), ("m", re.M), ("x", re.X)):
        if ch in flags:
            f |= v
    if multiline:
        f |= re.M
    py = translate(perl)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return re.compile(py.encode("latin-1"), f)
        except (re.error, UnicodeEncodeError, OverflowError, RecursionError) as e:
            msg = str(e)
            raise Untranslatable("python re: " + re.sub(r" at position \d+.*", "", msg).split(":")[0][:40]) from e


_META_TOKEN = re.compile(r"\s*(?:(&&|\|\||!=|==|>=|<=|[()!+\-*/<>])|([A-Za-z_][A-Za-z0-9_]*)|(\d+(?:\.\d+)?))")


def translate_meta(expr: str) -> tuple[str, tuple[str, ...]]:
    """A meta rule's Perl expression as a Python expression over `v` (rule name -> value),
    with the names it reads. `!X` binds tighter than any operator, as in Perl."""
    out: list[str] = []
    deps: list[str] = []
    pos = 0
    pending_not: list[int] = []  # paren depths at which a `!(` must close
    depth = 0
    nots = 0  # `!` waiting for their operand
    expr = expr.strip()
    while pos < len(expr):
        m = _META_TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            if expr[pos:].strip() == "":
                break
            raise Untranslatable("meta syntax")
        pos = m.end()
        op, name, num = m.groups()
        if op == "!":
            nots += 1
            continue
        if op == "(":
            depth += 1
            if nots:
                out.append("(not " * nots)
                pending_not.extend([depth] * nots)
                nots = 0
            out.append("(")
            continue
        if op == ")":
            out.append(")")
            while pending_not and pending_not[-1] == depth:
                pending_not.pop()
                out.append(")")
            depth -= 1
            continue
        if name or num:
            atom = f"v.get({name!r},0)" if name else num
            if name:
                deps.append(name)
            if nots:
                atom = "(not " * nots + atom + ")" * nots
                nots = 0
            out.append(atom)
            continue
        out.append({"&&": " and ", "||": " or "}.get(op, f" {op} "))
    if nots or depth or pending_not:
        raise Untranslatable("meta syntax")
    py = "".join(out)
    try:
        compile(py, "<meta>", "eval")
    except SyntaxError as e:
        raise Untranslatable("meta syntax") from e
    return py, tuple(dict.fromkeys(deps))


def _replace_tags(pattern: str, conf: dict[str, dict[str, str]]) -> str:
    """Plugin::ReplaceTags on one rule's pattern (tags `<X>`, `<inter N>`, `<pre N>`, `<post N>`)."""
    re_ = pattern
    for _ in range(6):
        again = False
        mods = {}
        for kind in ("pre", "post", "inter"):
            m = re.search(rf"<{kind} (.+?)>", re_)
            if m:
                mods[kind] = m.group(1)
                re_ = re_[:m.start()] + re_[m.end():]
        parts = re.split(r"(<[^<>]+>)", re_)
        while parts and parts[-1] == "":  # Perl's split drops trailing empty fields
            parts.pop()
        pre = conf["replace_pre"].get(mods.get("pre", ""))
        post = conf["replace_post"].get(mods.get("post", ""))
        if pre:
            parts = [re.sub(r"(<.+?>)", lambda m, pre=pre: pre + m.group(1), p, count=1) for p in parts]
        if post:
            parts = [re.sub(r"(<.+?>)", lambda m, post=post: m.group(1) + post, p) for p in parts]
        if "inter" in mods and conf["replace_inter"].get(mods["inter"]):
            parts = [conf["replace_inter"][mods["inter"]] if p == "" else p for p in parts]
        for k, p in enumerate(parts):
            m = re.search(r"<(.+?)>", p)
            if m and conf["replace_tag"].get(m.group(1)):
                rep = conf["replace_tag"][m.group(1)]
                parts[k] = p.replace(f"<{m.group(1)}>", rep)
                again = again or bool(re.search(r"<[^>]+>", rep))
        re_ = "".join(parts)
        if not again:
            break
    return re_


def read_rules(rules_dir: Path = RULES_DIR, plugins: set[str] | None = None) -> RuleSet:
    """Every rule of the installed .cf files this module can run, translated and scored."""
    plugins = loaded_plugins() if plugins is None else plugins
    rs = RuleSet()
    defs: dict[str, tuple[str, str, str]] = {}  # name -> (kind, rest of line, file)
    replace: dict[str, dict[str, str]] = {k: {} for k in ("replace_tag", "replace_inter", "replace_pre", "replace_post")}
    replace_rules: set[str] = set()
    for path in sorted(rules_dir.glob("*.cf")):
        stack: list[bool] = []
        # SA's rule files are bytes; latin-1 keeps every byte as one character
        for raw in path.read_text(encoding="latin-1").splitlines():
            line = _strip_comment(raw)
            if not line:
                continue
            word, rest = line.split(None, 1)[0], (line.split(None, 1) + [""])[1]
            if word == "ifplugin":
                stack.append(rest.strip() in plugins)
                continue
            if word == "if":
                stack.append(_if_true(rest, plugins))
                continue
            if word == "else":
                if stack:
                    stack[-1] = not stack[-1]
                continue
            if word == "endif":
                if stack:
                    stack.pop()
                continue
            if not all(stack):
                continue
            parts = rest.split(None, 1)
            name, arg = (parts + ["", ""])[:2] if parts else ("", "")
            if word in KINDS:
                defs[name] = (word, arg.strip(), path.name)
            elif word == "score":
                vals = arg.split()
                try:
                    rs.scores[name] = float(vals[0]) if vals else 0.0
                except ValueError:
                    pass
            elif word == "tflags":
                rs.tflags[name] = set(arg.split())
            elif word in replace:
                replace[word][name] = arg.strip()
            elif word == "replace_rules":
                replace_rules.update(rest.split())
    for name, (kind, arg, fname) in defs.items():
        rs.counts[f"defined {kind}"] += 1
        flags = rs.tflags.get(name, set())
        if flags & {"net", "learn"}:
            rs.counts[f"skipped {kind}: tflags net/learn"] += 1
            continue
        if not name.startswith("__") and name in rs.scores and rs.scores[name] == 0:
            rs.counts[f"skipped {kind}: score 0"] += 1
            continue
        if kind in ("full", "mimeheader"):
            rs.counts[f"skipped {kind}: not read here"] += 1
            continue
        if arg.startswith("eval:"):
            rs.counts[f"skipped {kind}: eval"] += 1
            continue
        maxhits = 1
        if "multiple" in flags:
            mh = [f for f in flags if f.startswith("maxhits=")]
            maxhits = int(mh[0].split("=")[1]) if mh else MAX_HITS
        try:
            if kind == "meta":
                py, deps = translate_meta(arg)
                rs.rules[name] = Rule(name, "meta", arg, meta=py, deps=deps, file=fname)
                rs.counts["translated meta"] += 1
                continue
            negate = False
            if kind == "header":
                m = re.match(r"^Subject\s*(=~|!~)\s*(.*?)(?:\s*\[if-unset:.*\])?$", arg)
                if not m:
                    rs.counts["skipped header: not Subject"] += 1
                    continue
                negate = m.group(1) == "!~"
                arg, kind = m.group(2), "subject"
            split = split_regex(arg)
            if split is None:
                raise Untranslatable("regex delimiters")
            pattern, rflags = split
            if name in replace_rules:
                pattern = _replace_tags(pattern, replace)
            compiled = compile_perl(pattern, rflags, multiline=(kind == "body"))
            rs.rules[name] = Rule(name, kind, pattern, rflags, negate, compiled, maxhits=maxhits, file=fname)
            rs.counts[f"translated {kind}"] += 1
        except Untranslatable as e:
            rs.counts[f"untranslatable {kind}: {e}"] += 1
    _drop_unrunnable_metas(rs)
    return rs


def _drop_unrunnable_metas(rs: RuleSet) -> None:
    """Drops each meta rule that reads (at any depth) a rule not run here: a header, eval or
    network rule would read as 0, so `!__HAS_DATE` would fire on every message."""
    ok: dict[str, bool] = {}

    def runnable(name: str, seen: frozenset[str] = frozenset()) -> bool:
        if name in ok:
            return ok[name]
        r = rs.rules.get(name)
        if r is None or name in seen:
            return False
        res = r.kind != "meta" or all(runnable(d, seen | {name}) for d in r.deps)
        ok[name] = res
        return res

    for name in [n for n, r in rs.rules.items() if r.kind == "meta"]:
        if not runnable(name):
            del rs.rules[name]
            rs.counts["translated meta"] -= 1
            rs.counts["skipped meta: reads a rule not run here"] += 1


# --- literal prefilter -------------------------------------------------------------------
# A rule whose every match contains one of a few literals need not run on text holding none of
# them: one Aho-Corasick pass over the lower-cased text then picks the rules worth running.

MIN_LITERAL = 3  # shorter literals occur in nearly every message: such a rule always runs
_MAX_ALTS = 64


def _exact(op: object, av: object) -> set[bytes] | None:
    """The strings an element matches exactly (lower-cased), if few; None if not a small finite set."""
    if op is _c.LITERAL:
        return {bytes([av]).lower()}  # type: ignore[list-item]
    if op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
        return {b""}  # zero width: the literal run goes on across it
    if op is _c.IN:
        out: set[bytes] = set()
        for iop, iav in av:  # type: ignore[attr-defined]
            if iop is _c.LITERAL:
                out.add(bytes([iav]).lower())
            elif iop is _c.RANGE and iav[1] - iav[0] < 4:
                out.update(bytes([x]).lower() for x in range(iav[0], iav[1] + 1))
            else:
                return None
        return out if 0 < len(out) <= 4 else None
    if op is _c.SUBPATTERN:
        return _exact_seq(av[3])  # type: ignore[index]
    if op is _c.ATOMIC_GROUP:
        return _exact_seq(av)  # type: ignore[arg-type]
    if op is _c.BRANCH:
        out = set()
        for b in av[1]:  # type: ignore[index]
            e = _exact_seq(b)
            if e is None:
                return None
            out |= e
        return out if len(out) <= _MAX_ALTS else None
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
        lo, hi, item = cast(tuple[int, int, object], av)
        if lo == hi and 0 < lo <= 3:
            e = _exact_seq(item)
            if e is None:
                return None
            return _product([e] * lo)
        return None
    return None


def _product(sets: list[set[bytes]]) -> set[bytes] | None:
    total = 1
    for s in sets:
        total *= len(s)
        if total > _MAX_ALTS:
            return None
    return {b"".join(t) for t in itertools.product(*sets)}


def _exact_seq(seq: object) -> set[bytes] | None:
    parts = []
    for op, av in seq:  # type: ignore[attr-defined]
        e = _exact(op, av)
        if e is None:
            return None
        parts.append(e)
    return _product(parts) if parts else {b""}


def _quality(lits: set[bytes] | None) -> tuple[int, int]:
    if not lits:
        return (-1, 0)
    return (min(len(x) for x in lits), -len(lits))


def _required_elem(op: object, av: object) -> set[bytes] | None:
    if op is _c.SUBPATTERN:
        return _required(av[3])  # type: ignore[index]
    if op is _c.ATOMIC_GROUP:
        return _required(av)
    if op is _c.BRANCH:
        out: set[bytes] = set()
        for b in av[1]:  # type: ignore[index]
            r = _required(b)
            if not r:
                return None
            out |= r
        return out if len(out) <= _MAX_ALTS else None
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT) and av[0] >= 1:  # type: ignore[index]
        return _required(av[2])  # type: ignore[index]
    return None


def _required(seq: object) -> set[bytes] | None:
    """Literals one of which every match of the sequence contains (None: no such small set)."""
    candidates: list[set[bytes]] = []
    run: set[bytes] = {b""}
    for op, av in seq:  # type: ignore[attr-defined]
        e = _exact(op, av)
        if e is not None:
            joined = _product([run, e])
            if joined is None:
                candidates.append(run)
                run = e
            else:
                run = joined
            continue
        candidates.append(run)
        run = {b""}
        r = _required_elem(op, av)
        if r:
            candidates.append(r)
    candidates.append(run)
    best = max(candidates, key=_quality)
    return best if _quality(best)[0] >= MIN_LITERAL else None


def required_literals(pattern: re.Pattern[bytes]) -> list[bytes] | None:
    """Lower-case literals at least one of which occurs (lower-cased) in any text the pattern
    matches; None when the pattern has no such set (the rule must always run)."""
    try:
        parsed = _p.parse(pattern.pattern, pattern.flags)
    except Exception:
        return None
    lits = _required(list(parsed))
    if not lits:
        return None
    # a literal that contains another adds nothing: the shorter one occurs wherever it does
    return sorted(x for x in lits if not any(y != x and y in x for y in lits))
