// OURS, not a WPT file: WPT leaves testharnessreport.js to each runner ("the file WPT
// expects every runner to provide"). Loaded by every test page right after
// /resources/testharness.js. It does two things:
//
// 1. Reports the results to the runner page (our runner: crates/test-support/src/
//    wpt_runner.htm) as one postMessage to the parent, same origin only:
//      {type: "myapps-wpt-result", file, status: {status, message},
//       tests: [{name, status, message}]}
//    with testharness.js's numeric statuses (test: 0 PASS, 1 FAIL, 2 TIMEOUT, 3 NOTRUN,
//    4 PRECONDITION_FAILED; harness: 0 OK, 1 ERROR, 2 TIMEOUT, 3 PRECONDITION_FAILED).
//
// 2. Restores two assertions that testharness.js removed in 2020 but that the vendored
//    test files (read at older commits, see tests/wpt/README.md) still call:
//    promise_rejects(t, expected, promise, description) and
//    assert_throws(expected, func, description). As then, `expected` is a DOMException
//    name (or legacy code) or an exception object whose constructor must match; they
//    forward to today's promise_rejects_dom/_js and assert_throws_dom/_js, so the checks
//    are testharness.js's own. Both are defined only when missing.
(function () {
  'use strict';
  const isObject = (x) => typeof x === 'object' && x !== null;
  if (typeof self.promise_rejects !== 'function') {
    self.promise_rejects = function (test, expected, promise, description) {
      return isObject(expected)
        ? promise_rejects_js(test, expected.constructor, promise, description)
        : promise_rejects_dom(test, expected, promise, description);
    };
  }
  if (typeof self.assert_throws !== 'function') {
    self.assert_throws = function (expected, func, description) {
      return isObject(expected)
        ? assert_throws_js(expected.constructor, func, description)
        : assert_throws_dom(expected, func, description);
    };
  }

  add_completion_callback(function (tests, status) {
    if (window.parent === window) {
      return;
    }
    const text = (m) => (m == null ? null : String(m));
    window.parent.postMessage({
      type: 'myapps-wpt-result',
      file: location.pathname,
      status: {status: status.status, message: text(status.message)},
      tests: tests.map((t) => ({name: t.name, status: t.status, message: text(t.message)})),
    }, location.origin);
  });
})();
