"""List the check-mode property test's examples natively, without a kernel (not collected by the host phase: no
``test_`` prefix; run it by name):

    python -m pytest -p no:cacheprovider tests/integration/host/list_examples.py -q -s

The example function of ``test_check_mode_predicts_real_runs`` runs as it is (hypothesis derives its derandomized
examples from its source), with ``Scratch``, ``Node`` and ``check_then_real`` replaced by recorders: each example
stops at its first engine call.  Prints how many were drawn, how many passed ``assume``, and a sha256 of them all
(compare it before and after a change to that file: the set is pinned, ``pin_examples``)."""

import contextlib
import hashlib
import json

import pytest

import test_host_check_mode as property_test


@pytest.fixture(scope='session')
def kernel_features():
    """Overrides the host tests' kernel check: nothing here touches a kernel."""
    return 'not needed'


def test_list_examples(tmp_path, monkeypatch):
    drawn, accepted = [], []

    @contextlib.contextmanager
    def scratch():
        yield type('Scratch', (), {'name': 'none'})()

    def to_module(module, params):
        drawn.append(json.dumps([module, params], sort_keys=True))
        return original(module, params)

    def check_then_real(_node, _module, params, _counts):
        accepted.append(json.dumps(params, sort_keys=True))
        return None, None

    original = property_test.to_module
    monkeypatch.setattr(property_test, 'to_module', to_module)
    monkeypatch.setattr(property_test, 'Scratch', scratch)
    monkeypatch.setattr(property_test, 'Node', lambda *args: None)
    monkeypatch.setattr(property_test, 'check_then_real', check_then_real)
    with pytest.raises(AssertionError, match='changed'):  # its floor: nothing ran, nothing changed
        property_test.test_check_mode_predicts_real_runs(tmp_path, monkeypatch)
    digest = hashlib.sha256('\n'.join(drawn + accepted).encode()).hexdigest()
    print('\nproperty-test examples: %d drawn, %d past assume, sha256 %s' % (len(drawn), len(accepted), digest))
    for item in drawn:
        print(item)
    assert accepted
