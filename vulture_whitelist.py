"""Names the dead-code check (vulture, in the lint session) would report although they are used.

vulture reads the code as text: it cannot see what the standard library, botocore, werkzeug or moto
call, what the tests call, or parameters a protocol imposes. Each name here says who uses it. Add a
name only with its user; delete the code instead when nothing uses it. Never run: vulture reads it.
"""


class _Names:
    def __getattr__(self, name: str) -> None:
        return None


_ = _Names()

# Called by the standard library's HTTP and socket servers (tools/emulator/integrations/rest_api.py,
# tools/emulator/localaws.py).
_.do_GET
_.do_POST
_.do_PUT
_.do_DELETE
_.do_PATCH
_.do_HEAD
_.do_OPTIONS
_.log_message
_.log_request
_.protocol_version
_.daemon_threads

# Read by zipfile when it writes an entry (tools/deploy/package.py).
_.create_system
_.external_attr
_.compress_type

# Read by name, getattr(settings, name) (tools/deploy/preflight.py, _addresses).
_.alert_email
_.ops_email

# botocore's endpoint sends through this session (tools/emulator/inprocess.py).
_.http_session

# Parameters a protocol imposes: urllib3's response reads (botocore passes decode_content), WSGI's
# start_response, context managers' __exit__.
_.decode_content
_.exc_info
_.exc_type
_.tb

# moto serialises every attribute of BASE_ATTRIBUTES from the queue (tools/emulator/localaws.py).
_.redrive_allow_policy
# moto's response serializer reads SubscriptionArn off a subscription before its `arn`
# (tools/emulator/moto_sns.py: a pending one is listed as "PendingConfirmation").
_.SubscriptionArn

# The Lambda context object handlers receive (tools/emulator/worker.py), as AWS documents it.
_.function_version
_.invoked_function_arn
_.memory_limit_in_mb
_.aws_request_id
_.log_group_name
_.log_stream_name
_.client_context

# Fault injection for the end-to-end tests (tests/e2e/test_pipeline.py, tests/e2e/test_faults.py,
# docs/local-emulator.md).
_.outage
_.inject_failure
_.clear_failure
_.update_configuration  # a shorter cache or timeout for a fault test's run
_.throttle  # Parameter Store's quota during a cold scale-out (tests/e2e/test_production.py)
_.forget_failures  # after the S3 endpoint is put back (tests/e2e/test_production.py)
_.longest_wait_s  # the bound on one call, under every function's timeout (tests/unit/test_handler_kit.py)

# The producer role the end-to-end fixture signs with (tests/e2e/conftest.py).
_.create_invoker

# What a test reads to check a requirement.
_.to  # whom a confirmation e-mail went to (tests/unit/test_check_subscriptions.py)
_.rule_names  # the engine runs only enabled rules with weight (tests/unit/test_engine.py)
_.probability  # the model's calibration (tests/unit/test_model.py)
_.bias  # contributions add up to the raw score (tests/unit/test_model.py)
_.FINDING_TYPES  # the finding types analyze-patterns emits (tests/unit/test_patterns.py)
_.reads  # each rule reads only features the engine extracts (tests/unit/test_config.py)
_.SPARKOV_COLUMNS  # the Sparkov header the reader accepts (tests/quality/test_readers.py)
_.transaction_ids  # the replay's scores by transaction (tests/e2e/test_live_equals_backtest.py)

# Training at scale: single_process runs in the benchmark's child interpreter (tools/training/bench.py, _SINGLE);
# effective is the label contract's reference, compared with the Spark job's window (tests/training/test_job.py,
# test_labels.py).
_.single_process
_.effective

# The local cloud's overrides that werkzeug and moto read: a request's body size limit and whether to parse a form
# (tools/emulator/gateway.py direct_app), and the parsed update expression a validator was given
# (tools/emulator/moto_dynamodb.py, patch 14).
_.max_content_length
_.want_form_data_parsed
_._emulator_expression
