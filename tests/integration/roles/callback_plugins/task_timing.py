# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test helper: write each task's duration per host to $HN_TASK_TIMING (JSON lines) for the role tests' report."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r'''
name: task_timing
type: aggregate
short_description: Durations of tasks per host, for the role tests
description: Appends one JSON line per finished task and host to the file named by HN_TASK_TIMING.
requirements: []
'''


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'task_timing'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self._started = {}
        self._path = os.environ.get('HN_TASK_TIMING')

    def v2_runner_on_start(self, host, task):
        self._started[(host.get_name(), task._uuid)] = time.monotonic()

    def _done(self, result, status):
        if not self._path:
            return
        key = (result._host.get_name(), result._task._uuid)
        started = self._started.pop(key, None)
        if started is None:
            return
        with open(self._path, 'a') as handle:
            handle.write(json.dumps({'host': key[0], 'task': result._task.get_name(), 'status': status,
                                     'seconds': round(time.monotonic() - started, 2)}) + '\n')

    def v2_runner_on_ok(self, result):
        self._done(result, 'changed' if result._result.get('changed') else 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._done(result, 'failed')

    def v2_runner_on_skipped(self, result):
        self._done(result, 'skipped')
