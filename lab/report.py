"""The lab's report: a table for people, a JSON document next to it for machines."""

import json
import os
import platform
import textwrap
import time

WIDTH = 118


def build(rows, stages, meta, hitless=None):
    """The JSON document: rows (id, title, status, evidence, reason), stages (name, status, seconds, error), meta;
    ``hitless``: the hitless stage's section (lab/hitless.py), whose rows count in the result too."""
    passed = sum(1 for row in rows if row['status'] == 'PASS')
    # N/A: a row the profile's cluster cannot have (plain KubeVirt + Multus: what needs Harvester); it says why
    na = sum(1 for row in rows if row['status'] == 'N/A')
    document = {
        'lab': dict(meta, host=platform.node(), kernel=platform.release(), finished=time.strftime('%Y-%m-%dT%H:%M:%S%z')),
        'summary': {'rows': len(rows), 'passed': passed, 'failed': len(rows) - passed - na, 'na': na,
                    'result': 'PASS' if passed and passed + na == len(rows) else 'FAIL',
                    'seconds': round(sum(stage['seconds'] or 0 for stage in stages), 1)},
        'rows': rows,
        'stages': stages,
    }
    if hitless is not None:
        document['hitless'] = hitless
        failed = [row['id'] for row in hitless.get('rows') or [] if row['status'] != 'PASS']
        if failed or hitless.get('error'):
            document['summary']['result'] = 'FAIL'
        document['summary']['hitless'] = {'rows': len(hitless.get('rows') or []), 'failed': failed}
    return document


def _flow_text(got):
    if not got or 'lost' not in got:
        return 'no result'
    gap = '%.1f s' % (got['gap_ms'] / 1000.0) if got.get('gap_ms') is not None else '-'
    return 'lost %d/%d, gap %s' % (got['lost'], got['sent'], gap)


def render_hitless(section):
    """The hitless section: per change, per flow, echoes lost of sent and the longest gap, ours and recreate."""
    lines = ['', _wrap('hitless: changes made while traffic flows (ICMP echoes every %s ms per flow; lost/sent, longest '
                       'gap between answers); ours = the collection\'s modules, recreate = Harvester\'s controller\'s '
                       'way as an ip script' % section.get('interval_ms'), ''), '']
    if section.get('error'):
        lines.append(_wrap('! ' + section['error'], ''))
    labels = dict((flow['id'], flow['label']) for flow in section.get('flows') or [])
    lines.append('%-8s  %-6s  %-44s  %-26s  %s' % ('change', 'result', 'flow', 'ours', 'recreate'))
    lines.append('%s  %s  %s  %s  %s' % ('-' * 8, '-' * 6, '-' * 44, '-' * 26, '-' * 26))
    for row in section.get('rows') or []:
        lines.append('%-8s  %-6s  %s (ours %.0fs, recreate %.0fs)' % (
            row['id'], row['status'], row['title'], row['seconds']['ours'], row['seconds']['recreate']))
        for problem in (row.get('error'), row.get('recreate_error')):
            if problem:
                lines.append(_wrap('! ' + problem, ' ' * 18))
        for note in row.get('notes') or []:
            lines.append(_wrap(note, ' ' * 18))
        for flow_id, flow in sorted(row['flows'].items()):
            lines.append(('%-8s  %-6s  %-44s  %-26s  %s' % (
                '', 'ok' if flow['ok'] else 'BAD', labels.get(flow_id, flow_id)[:44], _flow_text(flow['ours']),
                _flow_text(flow['recreate']))).rstrip())
            lines.append('%-16s  goal (ours): %s' % ('', flow['goal']))
    return lines


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
    lines += ['%s  %s  %s' % ('-' * 56, '-' * 6, '-' * 8), '%-56s  %-6s  %8.1f' % ('total', '', summary['seconds'])]
    if 'hitless' in document:
        lines += render_hitless(document['hitless'])
    lines += ['', 'RESULT: %s (%d of %d rows pass%s%s)' % (
        summary['result'], summary['passed'], summary['rows'],
        ', %d n/a on this profile' % summary['na'] if summary.get('na') else '', '; hitless: %d of %d changes pass' % (
            summary['hitless']['rows'] - len(summary['hitless']['failed']), summary['hitless']['rows'])
        if 'hitless' in summary else '')]
    return '\n'.join(lines) + '\n'


def write(document, json_path, text_path):
    for path, content in ((json_path, json.dumps(document, indent=1) + '\n'), (text_path, render(document))):
        tmp = path + '.tmp'
        with open(tmp, 'w', encoding='utf-8') as handle:
            handle.write(content)
        os.replace(tmp, path)
