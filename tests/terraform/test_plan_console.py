"""The fraud team's loop as planned: the console's routes all behind the session authorizer but sign-in and the
static files, the authorizer a Lambda REQUEST authorizer on the Cookie header, the tables and the user pool as
docs/fraud-team.md describes them, and the console's roles limited to their own environment's data.

Same configurations and fixtures as test_plan_requirements.py (see conftest.py).
"""

from __future__ import annotations

import re

import pytest

pytestmark = [pytest.mark.terraform, pytest.mark.slow]

PUBLIC_ROUTES = {"GET /login", "POST /login", "GET /static/{name}"}
CONSOLE = "module.console."


def route(resource) -> str:
    return re.search(r'\["([^"]+)"\]$', resource.address).group(1)


def console_methods(plan) -> dict[str, object]:
    return {route(m): m for m in plan.resources("aws_api_gateway_method") if m.address.startswith(CONSOLE)}


def test_every_console_route_but_sign_in_and_static_files_is_checked_by_the_session_authorizer(any_plan):
    methods = console_methods(any_plan)
    assert {"ANY /", "ANY /{proxy+}"} | PUBLIC_ROUTES == set(methods)  # "/{proxy+}" is every other path
    for name, method in methods.items():
        if name in PUBLIC_ROUTES:
            assert (method.get("authorization"), method.get("authorizer_id")) == ("NONE", None), name
            continue
        assert method.get("authorization") == "CUSTOM", name
        assert method.is_unknown("authorizer_id"), name  # the authorizer's id, known at apply
        references = any_plan.module_expression(method, "authorizer_id").get("references", [])
        assert "aws_api_gateway_authorizer.session.id" in references, name
    # No resource of the API that these methods do not cover: nothing reaches the console unchecked.
    paths = {
        r.get("path_part") for r in any_plan.resources("aws_api_gateway_resource") if r.address.startswith(CONSOLE)
    }
    assert paths == {"{proxy+}", "login", "static", "{name}"}


def test_the_authorizer_is_a_lambda_request_authorizer_on_the_cookie_invoked_only_by_this_api(any_plan):
    [authorizer] = [a for a in any_plan.resources("aws_api_gateway_authorizer")]
    assert authorizer.get("type") == "REQUEST"
    assert authorizer.get("identity_source") == "method.request.header.Cookie"
    assert 0 < authorizer.get("authorizer_result_ttl_in_seconds") <= 300
    assert any_plan.module_expression(authorizer, "authorizer_uri")["references"] == ["var.authorizer_invoke_arn"]
    console_call = any_plan.raw["configuration"]["root_module"]["module_calls"]["console"]["expressions"]
    assert 'module.functions["console-authorizer"].invoke_arn' in console_call["authorizer_invoke_arn"]["references"]
    assert 'module.functions["console"].invoke_arn' in console_call["console_invoke_arn"]["references"]
    permissions = {p.get("statement_id"): p for p in any_plan.resources("aws_lambda_permission")}
    assert permissions["AllowApiGatewayConsoleAuthorizer"].is_unknown("source_arn")  # <api>/authorizers/<id>
    config = any_plan.module_expression(permissions["AllowApiGatewayConsoleAuthorizer"], "source_arn")
    assert any("authorizer_id" in r for r in config.get("references", []))


def test_the_transaction_api_keeps_its_own_authorization_and_no_session(any_plan):
    [post] = [m for m in any_plan.resources("aws_api_gateway_method") if m.address.startswith("module.api.")]
    assert post.get("authorization") in ("NONE", "AWS_IAM") and post.get("authorizer_id") is None
    assert post.get("api_key_required") is True


def test_gateway_responses_of_the_console_are_static_html_and_401_sends_the_browser_to_sign_in(any_plan):
    responses = {
        r.get("response_type"): r
        for r in any_plan.resources("aws_api_gateway_gateway_response")
        if r.address.startswith(CONSOLE)
    }
    assert {"UNAUTHORIZED", "ACCESS_DENIED", "AUTHORIZER_FAILURE", "DEFAULT_4XX", "DEFAULT_5XX"} <= set(responses)
    for kind, response in responses.items():
        templates = response.get("response_templates")
        assert set(templates) == {"application/json", "text/html"} and len(set(templates.values())) == 1, kind
        page = templates["text/html"]
        assert page.startswith("<!doctype html>") and "$" not in page, kind  # no variable: nothing to escape
        assert (
            response.get("response_parameters")["gatewayresponse.header.Content-Type"] == "'text/html; charset=utf-8'"
        )
    assert responses["UNAUTHORIZED"].get("status_code") == "401"
    assert 'id="signin"' in responses["UNAUTHORIZED"].get("response_templates")["text/html"]
    assert responses["ACCESS_DENIED"].get("status_code") == "403"


def test_the_cases_labels_and_lists_tables_have_pitr_the_cmk_and_the_contract_keys(any_plan):
    keys = {
        f"fraud-cases-{any_plan.suffix}": ("case_id", "sk"),
        f"fraud-labels-{any_plan.suffix}": ("transaction_id", "source"),  # the labels contract (docs/labels.md)
        f"fraud-lists-{any_plan.suffix}": ("entry_key", None),
    }
    for name, (hash_key, range_key) in keys.items():
        table = any_plan.named("aws_dynamodb_table", name)
        assert (table.get("hash_key"), table.get("range_key")) == (hash_key, range_key), name
        assert table.get("point_in_time_recovery", 0, "enabled") is True, name
        assert table.get("server_side_encryption", 0, "enabled") is True and table.is_set(
            "server_side_encryption", 0, "kms_key_arn"
        ), name
    cases = any_plan.named("aws_dynamodb_table", f"fraud-cases-{any_plan.suffix}")
    [index] = cases.get("global_secondary_index")
    assert (index["name"], index["hash_key"], index["range_key"]) == ("status-rank-index", "status", "rank")


def test_the_user_pool_offers_mfa_lets_only_admins_create_users_and_has_the_two_groups(any_plan):
    [pool] = any_plan.resources("aws_cognito_user_pool")
    assert pool.get("name") == f"fraud-analysts-{any_plan.suffix}"
    assert pool.get("mfa_configuration") in ("OPTIONAL", "ON")
    assert pool.get("software_token_mfa_configuration", 0, "enabled") is True
    assert pool.get("admin_create_user_config", 0, "allow_admin_create_user_only") is True
    assert pool.get("password_policy", 0, "minimum_length") >= 14
    assert {g.get("name") for g in any_plan.resources("aws_cognito_user_group")} == {"analysts", "admins"}
    [client] = any_plan.resources("aws_cognito_user_pool_client")
    assert client.get("generate_secret") is False
    assert sorted(client.get("explicit_auth_flows")) == ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_PASSWORD_AUTH"]
    assert client.get("prevent_user_existence_errors") == "ENABLED"
    assert (
        client.get("access_token_validity") <= 60 and client.get("token_validity_units", 0, "access_token") == "minutes"
    )


def test_the_console_and_its_authorizer_reach_only_their_own_environments_data(any_plan):
    from tests.terraform.test_plan_runtime_permissions import policy_documents

    for key in ("console", "console-authorizer"):
        prefix = f'module.functions["{key}"].'
        for address, statements in policy_documents(any_plan).items():
            if not address.startswith(prefix):
                continue
            for statement in statements:
                if statement.get("principals"):
                    continue
                for resource in statement.get("resources") or []:
                    # An ARN known only at apply is one of this configuration's own resources; X-Ray and the VPC
                    # ENI actions take "*" (test_plan_requirements checks which); the rest names this suffix.
                    assert resource in (None, "*") or any_plan.suffix in resource, (key, resource)
