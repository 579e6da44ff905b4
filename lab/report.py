"""The lab's report: a table for people, a JSON document next to it for machines."""

import json
import os
import platform
import textwrap
import time

WIDTH = 118


def build(rows, stages, meta):
    """The JSON document: rows (id, title, status, evidence, reason), stages (name, status, seconds, error), meta."""
    passed = sum(1 for row in rows if row['status'] == 'PASS')
    return {
        'lab': dict(meta, host=platform.node(), kernel=platform.release(), finished=time.strftime('%Y-%m-%dT%H:%M:%S%z')),
        'summary': {'rows': len(rows), 'passed': passed, 'failed': len(rows) - passed,
                    'result': 'PASS' if rows and passed == len(rows) else 'FAIL',
                    'seconds': round(sum(stage['seconds'] or 0 for stage in stages), 1)},
        'rows': rows,
        'stages': stages,
    }


def _wrap(text, indent):
    return textwrap.fill(text, WIDTH, initial_indent=indent, subsequent_indent=indent + '  ', break_long_words=False,
                         break_on_hyphens=False)


def render(document):
    """The table: one line per row with its verdict, the evidence under it, then the stage timings."""
    meta = document['lab']
    lines = ['harvester.network lab report (%s, Harvester API %s, kernel %s, %s)' % (
        meta.get('bed'), meta.get('profile'), meta.get('guest_kernel') or meta.get('kernel'), meta.get('finished')), '']
    lines.append('%-4s  %-6s  %s' % ('#', 'result', 'what is proven'))
    lines.append('%s  %s  %s' % ('-' * 4, '-' * 6, '-' * (WIDTH - 14)))
    for number, row in enumerate(document['rows'], start=1):
        lines.append('%-4s  %-6s  %s' % (number, row['status'], row['title']))
        if row.get('reason'):
            lines.append(_wrap(row['reason'], ' ' * 14 + '! '))
        for item in row['evidence']:
            lines.append(_wrap(item, ' ' * 14))
    lines += ['', '%-56s  %-6s  %8s' % ('stage', 'status', 'seconds'), '%s  %s  %s' % ('-' * 56, '-' * 6, '-' * 8)]
    for stage in document['stages']:
        lines.append('%-56s  %-6s  %8.1f' % (stage['name'], stage['status'], stage['seconds'] or 0))
        for name, seconds in stage.get('parts') or []:
            lines.append('  %-54s  %-6s  %8.1f' % (name[:54], '', seconds))
        if stage.get('error'):
            lines.append(_wrap(stage['error'], '    ! '))
    summary = document['summary']
    lines += ['%s  %s  %s' % ('-' * 56, '-' * 6, '-' * 8), '%-56s  %-6s  %8.1f' % ('total', '', summary['seconds']), '',
              'RESULT: %s (%d of %d rows pass)' % (summary['result'], summary['passed'], summary['rows'])]
    return '\n'.join(lines) + '\n'


def write(document, json_path, text_path):
    for path, content in ((json_path, json.dumps(document, indent=1) + '\n'), (text_path, render(document))):
        tmp = path + '.tmp'
        with open(tmp, 'w', encoding='utf-8') as handle:
            handle.write(content)
        os.replace(tmp, path)
