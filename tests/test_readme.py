"""README.md's in-page links point at headings that exist (GitHub's anchors)."""

import os.path as osp
import re

from .conftest import REPO_ROOT

README = osp.join(REPO_ROOT, 'README.md')


def github_anchor(heading):
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r'[^\w\- ]', '', heading.strip().lower()).replace(' ', '-')


def headings(text):
    """The anchors of the Markdown headings of ``text``, fenced code left out."""
    anchors, fenced = [], False
    for line in text.splitlines():
        if line.startswith('```'):
            fenced = not fenced
        elif not fenced and re.match(r'#{1,6} ', line):
            anchors.append(github_anchor(line.lstrip('#')))
    return anchors


def test_github_anchor():
    assert github_anchor(' What `msclr_mm.compat` fixes') == 'what-msclr_mmcompat-fixes'
    assert (
        github_anchor('Speed (issue 8): switches, benchmark, measured figures')
        == 'speed-issue-8-switches-benchmark-measured-figures'
    )


def test_every_in_page_link_has_its_heading():
    text = open(README).read()
    anchors = set(headings(text))
    links = re.findall(r'\]\(#([^)]+)\)', text)
    assert len(links) >= 10  # the contents list and the cross-references
    missing = sorted({link for link in links if link not in anchors})
    assert not missing, f'README.md links to headings that do not exist: {missing}'


def test_the_contents_list_every_section():
    """The contents list at the top names every second-level section, in order."""
    text = open(README).read()
    start = text.index('\n## Contents\n')
    block = text[start:].split('\n## ', 2)[1]
    listed = re.findall(r'^- \[[^\]]+\]\(#([^)]+)\)', block, flags=re.M)
    sections = [github_anchor(h) for h in re.findall(r'^## (.+)$', text, flags=re.M)]
    assert listed == [s for s in sections if s != 'contents']
