#!/bin/sh
# prove's runner: each test gets a time bound (TEST_TIMEOUT seconds, default
# 300) so a hung test fails instead of hanging the suite.
exec timeout -k 10 "${TEST_TIMEOUT:-300}" "$@"
