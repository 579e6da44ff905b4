"""Pure logic of the cluster layer's paging and waiting (the integration proof is
tests/integration/cluster/test_scale.py, against the real kube-apiserver): how long a 429/5xx answer asks to wait,
the fallback when a continue token expired, and how a plan is cut into runs of concurrent writes."""

import pytest

from ansible_collections.harvester.network.plugins.module_utils.cluster.errors import ApiError
from ansible_collections.harvester.network.plugins.module_utils.cluster.resources import NAD, VIRTUAL_MACHINE
from ansible_collections.harvester.network.plugins.module_utils.cluster.service import (
    Change, ResourceService, _runs)
from ansible_collections.harvester.network.plugins.module_utils.cluster.transport import (
    RETRY_AFTER_CAP, RETRY_AFTER_DEFAULT, retry_after)


@pytest.mark.parametrize('status, headers, wait', [
    (200, {'Retry-After': '3'}, None),
    (404, {}, None),
    (409, {'Retry-After': '3'}, None),
    (429, {'Retry-After': '3'}, 3.0),
    (429, {}, RETRY_AFTER_DEFAULT),
    (429, {'Retry-After': 'Wed, 21 Oct 2015 07:28:00 GMT'}, RETRY_AFTER_DEFAULT),
    (429, {'Retry-After': '3600'}, RETRY_AFTER_CAP),
    (429, {'Retry-After': '-5'}, 0.0),
    (503, {'Retry-After': '2'}, 2.0),
    (503, {}, None),
    (500, {'Retry-After': 'soon'}, None),
])
def test_retry_after(status, headers, wait):
    assert retry_after(status, headers) == wait


class ExpiringPages(object):
    """Answers LISTs from ``objects`` in pages; the continue token of the first page has expired (410), as after an
    etcd compaction between two pages."""

    def __init__(self, objects):
        self.objects = objects
        self.log = []

    def request(self, method, path, query=None, body=None, content_type=None):
        query = dict(query or [])
        self.log.append(query)
        if 'continue' in query:
            raise ApiError('The provided continue parameter is too old', status=410)
        limit = int(query.get('limit') or len(self.objects))
        answer = {'items': [dict(o) for o in self.objects[:limit]], 'metadata': {}}
        if limit < len(self.objects):
            answer['metadata']['continue'] = 'token'
        return answer


def test_expired_continue_token_falls_back_to_one_whole_list():
    objects = [{'metadata': {'name': 'n%d' % i, 'namespace': 'ns'}} for i in range(5)]
    transport = ExpiringPages(objects)
    service = ResourceService(transport)
    service.page_size = 2
    items = service.list(NAD, 'ns', label_selector='a=b')
    assert sorted(items) == [('ns', 'n%d' % i) for i in range(5)]
    first, second, whole = transport.log
    assert first == {'labelSelector': 'a=b', 'limit': 2}
    assert second == {'labelSelector': 'a=b', 'limit': 2, 'continue': 'token'}
    assert whole == {'labelSelector': 'a=b'}


def test_runs_keep_plan_order_and_split_by_kind_and_request():
    def change(kind, name, action):
        return Change(kind, ('ns', name), action)
    plan = [change(NAD, 'a', 'create'), change(NAD, 'b', 'none'), change(NAD, 'c', 'update'),
            change(NAD, 'd', 'delete'), change(NAD, 'e', 'delete'), change(VIRTUAL_MACHINE, 'vm', 'create'),
            change(NAD, 'f', 'create')]
    assert [[c.key[1] for c in run] for run in _runs(plan)] == [['a', 'c'], ['d', 'e'], ['vm'], ['f']]


def test_final_is_the_first_change_that_is_not_a_delete_of_that_kind_and_key():
    """``final`` answers per key from one index (a handler asks it for each of thousands of networks); it must answer
    what the linear scan answered: the server's result, else what existed, else the manifest; None for a delete."""
    reconcile = ResourceService(None).reconcile()
    nad = {'metadata': {'name': 'a', 'namespace': 'ns'}}
    reconcile.add(Change(NAD, ('ns', 'gone'), 'delete', existing=nad))
    reconcile.add(Change(NAD, ('ns', 'a'), 'none', desired={'d': 1}, existing={'e': 1}))
    reconcile.add(Change(VIRTUAL_MACHINE, ('ns', 'b'), 'create', desired={'d': 2}))
    reconcile.add(Change(NAD, ('ns', 'a'), 'update', desired={'d': 3}))
    assert reconcile.final(NAD, ('ns', 'a')) == {'e': 1}
    assert reconcile.final(NAD, ('ns', 'gone')) is None
    assert reconcile.final(NAD, ('ns', 'b')) is None  # another kind's key
    assert reconcile.final(VIRTUAL_MACHINE, ('ns', 'b')) == {'d': 2}
    reconcile.changes[2].result = {'r': 2}  # the server answered after the index was built
    assert reconcile.final(VIRTUAL_MACHINE, ('ns', 'b')) == {'r': 2}
    reconcile.add(Change(NAD, ('ns', 'c'), 'create', desired={'d': 4}))  # a change added later is seen
    assert reconcile.final(NAD, ('ns', 'c')) == {'d': 4}
