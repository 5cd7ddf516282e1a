"""The tenants app's system checks: TOKEN_ENCRYPTION_KEYS missing or malformed (tenants.E001, E002), and
audit log settings that are not positive (tenants.E003)."""

from django.core.checks import run_checks


def check_ids(settings, keys):
    settings.TOKEN_ENCRYPTION_KEYS = keys
    return [
        (message.id, message.msg, message.hint)
        for message in run_checks()
        if message.id.startswith("tenants.")
    ]


def test_missing_keys_are_a_system_check_error_with_a_generation_hint(settings):
    [(check_id, _msg, hint)] = check_ids(settings, [])
    assert check_id == "tenants.E001"
    assert "Fernet.generate_key()" in hint


def test_a_malformed_key_is_reported_by_position_not_by_value(settings, fresh_key):
    [(check_id, msg, hint)] = check_ids(settings, [fresh_key, "not-a-real-key"])
    assert check_id == "tenants.E002"
    assert "Key number 2" in msg and "not-a-real-key" not in msg
    assert "Fernet.generate_key()" in hint


def test_valid_keys_pass(settings, fresh_key):
    assert check_ids(settings, [fresh_key]) == []


def test_audit_log_settings_that_are_not_positive_are_a_system_check_error(settings, fresh_key):
    settings.AUDIT_LOG_RETENTION_DAYS = 0
    settings.AUDIT_LOG_FLUSH_SECONDS = -1.0
    assert check_ids(settings, [fresh_key]) == [
        ("tenants.E003", "AUDIT_LOG_RETENTION_DAYS is 0: it must be a positive number.", None),
        ("tenants.E003", "AUDIT_LOG_FLUSH_SECONDS is -1.0: it must be a positive number.", None),
    ]
