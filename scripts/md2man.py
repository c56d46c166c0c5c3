#!/usr/bin/env python3
"""Converts one of the project's Markdown man pages (docs/<program>.md) into a man(7) page.

    scripts/md2man.py PAGE.md VERSION [ENVIRONMENT.md] > program.8

The page's first line names the program and its section: `# limitd(8) — rate limits per client key`
(or `: ...`). A page without a NAME section gets one from that line. ENVIRONMENT.md, when given, is a
settings table (`DAEMON --help=markdown`) appended as the ENVIRONMENT section, so the man page lists
every variable the program really reads.

Only the Markdown the docs use is understood: headings, paragraphs, `code`, **bold**, *italic*,
[links](url), lists, fenced or indented code, and tables (rendered as tagged paragraphs, which read
better on a terminal than tbl's wrapped columns).
"""
import re
import sys

SPECIAL = {
    "\u2014": r"\(em", "\u2013": r"\(en", "\u00d7": r"\(mu", "\u2192": r"\(->", "\u2190": r"\(<-",
    "\u2265": r"\(>=", "\u2264": r"\(<=", "\u2026": "...", "\u2212": r"\-", "\u2018": r"\(oq",
    "\u2019": r"\(cq", "\u201c": r"\(lq", "\u201d": r"\(rq", "\u00b1": r"\(+-", "\u2248": r"\(~~",
    "\u2260": r"\(!=", "\u00a0": r"\~", "\u00b5": r"\(mc", "\u2022": r"\(bu",
}


def escape(text, minus=False):
    """Plain text to roff: backslashes, special characters; hyphens stay hyphens unless `minus`."""
    text = text.replace("\\", r"\e")
    if minus:
        text = text.replace("-", r"\-")
    return "".join(SPECIAL.get(c, c) for c in text)


def code(text):
    """Text in backticks: bold, and its hyphens are minus signs (options, paths and commands are typed)."""
    return r"\fB" + escape(text, minus=True) + r"\fR"


def inline(text):
    """Markdown inline markup to roff fonts."""
    out = []
    pos = 0
    pattern = re.compile(r"`([^`]+)`|\*\*(.+?)\*\*|(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])|\[([^\]]+)\]\(([^)]+)\)")
    for match in pattern.finditer(text):
        out.append(escape(text[pos:match.start()]))
        if match.group(1) is not None:
            out.append(code(match.group(1)))
        elif match.group(2) is not None:
            out.append(r"\fB" + inline(match.group(2)) + r"\fR")
        elif match.group(3) is not None:
            out.append(r"\fI" + inline(match.group(3)) + r"\fR")
        else:
            label, url = match.group(4), match.group(5)
            out.append(inline(label) if label == url else inline(label) + " (" + escape(url) + ")")
        pos = match.end()
    out.append(escape(text[pos:]))
    return "".join(out)


def line(text):
    """One output line; a leading dot or quote would be read as a request."""
    return "\\&" + text if text.startswith((".", "'")) else text


def cells(row):
    """The cells of a Markdown table row; `\\|` is a literal bar."""
    row = row.strip().strip("|")
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", row)]


def table(rows, out):
    """A table as tagged paragraphs: the first cell is the tag, the others follow as `header: cell`."""
    header = cells(rows[0])
    for row in rows[2:]:
        values = cells(row)
        out.append(".TP")
        out.append(line(inline(values[0])))
        parts = []
        for name, value in zip(header[1:], values[1:]):
            if value:
                # Two columns need no labels; more say which column each line is.
                label = inline(name) + ": " if name and len(header) > 2 else ""
                parts.append(line(label + inline(value)))
        out.append("\n.br\n".join(parts))


def convert(markdown, version, environment=None):
    lines = markdown.split("\n")
    title = re.match(r"#\s+([A-Za-z0-9_.-]+)\((\d)\)\s*(?:—|:|-)\s*(.*)", lines[0])
    if not title:
        sys.exit(f"md2man: the first line must read '# program(N) — summary', not {lines[0]!r}")
    program, section, summary = title.groups()
    out = [f'.TH {program.upper()} {section} "" "infer {version}" "infer manual"']
    body = lines[1:]
    if not any(re.match(r"##\s+NAME\s*$", l, re.I) for l in body):
        out += [".SH NAME", f"{escape(program)} \\- {inline(summary)}"]
    paragraph = []

    def flush():
        if paragraph:
            out.append(".PP")
            out.extend(line(inline(p)) for p in paragraph)
            paragraph.clear()

    def environment_section():
        rows = [l for l in environment.split("\n") if l.strip().startswith("|")]
        out.extend([".SH ENVIRONMENT", ".PP",
                    line(f"Every variable {escape(program)} reads (from {code(program + ' --help=markdown')}); "
                         "under systemd, set them in \\fI/etc/infer/infer.env\\fR.")])
        table(rows, out)

    i = 0
    while i < len(body):
        text = body[i]
        stripped = text.strip()
        heading = re.match(r"(#{2,4})\s+(.*)", text)
        if heading:
            flush()
            if environment and heading.group(2).strip().upper() == "SEE ALSO":
                environment_section()
                environment = None
            name = heading.group(2).strip()
            out.append((".SH " if len(heading.group(1)) == 2 else ".SS ") + '"' + inline(
                name.upper() if len(heading.group(1)) == 2 else name) + '"')
            if len(heading.group(1)) == 2 and name.upper() == "NAME":
                # NAME's body is one line "program \- summary" for whatis/apropos.
                i += 1
                words = []
                while i < len(body) and body[i].strip() and not body[i].startswith("#"):
                    words.append(body[i].strip())
                    i += 1
                name, _, what = re.sub(r"\s+(?:—|-)\s+", "\0", " ".join(words), count=1).partition("\0")
                out.append(escape(name) + (r" \- " + inline(what) if what else ""))
                continue
        elif stripped.startswith("```"):
            flush()
            i += 1
            out += [".PP", ".RS 4", ".nf"]
            while i < len(body) and not body[i].strip().startswith("```"):
                out.append(line(escape(body[i], minus=True)))
                i += 1
            out += [".fi", ".RE"]
        elif text.startswith("    ") and not paragraph:
            flush()
            out += [".PP", ".RS 4", ".nf"]
            while i < len(body) and (body[i].startswith("    ") or not body[i].strip()):
                if not body[i].strip() and (i + 1 >= len(body) or not body[i + 1].startswith("    ")):
                    break
                out.append(line(escape(body[i][4:], minus=True)))
                i += 1
            out += [".fi", ".RE"]
            continue
        elif stripped.startswith("|") and i + 1 < len(body) and re.match(r"\s*\|[-:| ]+\|\s*$", body[i + 1]):
            flush()
            rows = []
            while i < len(body) and body[i].strip().startswith("|"):
                rows.append(body[i])
                i += 1
            table(rows, out)
            continue
        elif re.match(r"\s*([-*]|\d+\.)\s+", text):
            flush()
            item = re.match(r"\s*([-*]|\d+\.)\s+(.*)", text)
            bullet = r"\(bu" if item.group(1) in "-*" else item.group(1)
            words = [item.group(2)]
            i += 1
            while i < len(body) and body[i].startswith("  ") and body[i].strip() and not re.match(
                    r"\s*([-*]|\d+\.)\s+", body[i]):
                words.append(body[i].strip())
                i += 1
            out.append(f".IP {bullet} 4")
            out.extend(line(inline(w)) for w in words)
            continue
        elif not stripped:
            flush()
        else:
            paragraph.append(stripped)
        i += 1
    flush()
    if environment:
        environment_section()
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: md2man.py PAGE.md VERSION [ENVIRONMENT.md]")
    with open(sys.argv[1], encoding="utf-8") as f:
        markdown = f.read()
    environment = None
    if len(sys.argv) == 4:
        with open(sys.argv[3], encoding="utf-8") as f:
            environment = f.read()
    sys.stdout.write(convert(markdown, sys.argv[2], environment))


if __name__ == "__main__":
    main()
