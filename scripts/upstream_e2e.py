"""Supervisor 4.3.0's own end-to-end suite (supervisor/tests/test_end_to_end.py) against the
supervisor-rs binaries.

The suite starts `python -m supervisor.supervisord`, `python -m supervisor.supervisorctl` and
`python -c 'from supervisor import confecho; confecho.main()'` through pexpect; this runner
swaps those for our supervisord, supervisorctl and echo_supervisord_conf (from
$SUPERVISOR_RS_BIN_DIR, default target/debug; UPSTREAM=1 keeps Python's, for comparison) and
runs the tests named on the command line, or all of them. It needs pexpect in the venv
(scripts/test.sh installs it) and `python` on PATH for the fixtures' programs:

    PATH=.venv/bin:$PATH python scripts/upstream_e2e.py [test_issue_638 ...]

tests/upstream_suite.rs runs it under cargo test and checks the outcome against its list of
expected failures. Besides unittest's report, the runner prints one line per test:

    upstream-result: <test name> <ok|fail|error|skip> <programs it started, comma-separated>

where a program is `ours:<binary>` or `python:<module or command>`, so a test that never ran
one of our binaries (pidproxy has no counterpart here) can be told apart.
"""
import glob
import os
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.environ.get('SUPERVISOR_RS_VENV') or os.path.join(ROOT, '.venv')
SITE = glob.glob(os.path.join(VENV, 'lib', 'python3*', 'site-packages'))[0]
BIN = os.environ.get('SUPERVISOR_RS_BIN_DIR') or os.path.join(ROOT, 'target', 'debug')
UPSTREAM = os.environ.get('UPSTREAM') == '1'
OURS = {'supervisor.supervisord': 'supervisord', 'supervisor.supervisorctl': 'supervisorctl'}
CONFECHO = 'from supervisor import confecho; confecho.main()'

sys.path.insert(0, SITE)
os.environ['END_TO_END'] = '1'  # the suite only defines its tests when this is set
import pexpect  # noqa: E402

_spawn = pexpect.spawn
started = {}  # test id -> programs it spawned
current = [None]


def swap(command, args):
    """(command, args, label) with Python's supervisord/ctl/confecho replaced by ours."""
    if command == sys.executable and args[:1] == ['-m'] and args[1] in OURS:
        if UPSTREAM:
            return command, args, 'python:' + args[1]
        name = OURS[args[1]]
        return os.path.join(BIN, name), args[2:], 'ours:' + name
    if command == sys.executable and args == ['-c', CONFECHO]:
        if UPSTREAM:
            return command, args, 'python:confecho'
        return os.path.join(BIN, 'echo_supervisord_conf'), [], 'ours:echo_supervisord_conf'
    if command == sys.executable and args[:1] == ['-m']:
        return command, args, 'python:' + args[1]
    return command, args, 'python:' + os.path.basename(command)


class spawn(_spawn):
    def __init__(self, command, args=(), **kw):
        command, args, label = swap(command, list(args))
        if label.startswith('python:'):
            kw.setdefault('env', dict(os.environ, PYTHONPATH=SITE))
        started.setdefault(current[0], []).append(label)
        super().__init__(command, args, **kw)


pexpect.spawn = spawn
from supervisor.tests import test_end_to_end  # noqa: E402


class Result(unittest.TextTestResult):
    outcomes = {}

    def startTest(self, test):
        current[0] = test.id()
        super().startTest(test)

    def addSuccess(self, test):
        self.outcomes[test.id()] = 'ok'
        super().addSuccess(test)

    def addFailure(self, test, err):
        self.outcomes[test.id()] = 'fail'
        super().addFailure(test, err)

    def addError(self, test, err):
        self.outcomes[test.id()] = 'error'
        super().addError(test, err)

    def addSkip(self, test, reason):
        self.outcomes[test.id()] = 'skip'
        super().addSkip(test, reason)


loader = unittest.TestLoader()
if sys.argv[1:]:
    suite = unittest.TestSuite(
        loader.loadTestsFromName(n, test_end_to_end.EndToEndTests) for n in sys.argv[1:])
else:
    suite = loader.loadTestsFromModule(test_end_to_end)
result = unittest.TextTestRunner(verbosity=2, resultclass=Result).run(suite)
for test_id, outcome in sorted(Result.outcomes.items()):
    programs = ','.join(sorted(set(started.get(test_id, [])))) or '-'
    print('upstream-result: %s %s %s' % (test_id.rsplit('.', 1)[-1], outcome, programs),
          flush=True)
sys.exit(0 if result.wasSuccessful() else 1)
