"""The documents of the AWS managed policies SAM attaches to the functions' roles (as AWS
publishes them: logs and X-Ray on "*"). An ARN not listed here fails loudly: describe it before
relying on it."""

from __future__ import annotations

import copy
from typing import Any

PARTITION = "aws"

_LOGS = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
MANAGED_POLICIES: dict[str, list[dict[str, Any]]] = {
    "service-role/AWSLambdaBasicExecutionRole": [{"Effect": "Allow", "Action": _LOGS, "Resource": "*"}],
    "service-role/AWSLambdaSQSQueueExecutionRole": [
        {
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", *_LOGS],
            "Resource": "*",
        }
    ],
    "service-role/AWSLambdaDynamoDBExecutionRole": [
        {
            "Effect": "Allow",
            "Action": [
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
                *_LOGS,
            ],
            "Resource": "*",
        }
    ],
    "AWSXrayWriteOnlyAccess": [
        {
            "Effect": "Allow",
            "Action": [
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "xray:GetSamplingStatisticSummaries",
            ],
            "Resource": "*",
        }
    ],
    "service-role/AmazonAPIGatewayPushToCloudWatchLogs": [
        {
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:DescribeLogGroups",
                "logs:DescribeLogStreams",
                "logs:PutLogEvents",
                "logs:GetLogEvents",
                "logs:FilterLogEvents",
            ],
            "Resource": "*",
        }
    ],
}


def managed_policy(arn: str) -> list[dict[str, Any]]:
    prefix = f"arn:{PARTITION}:iam::aws:policy/"
    if not arn.startswith(prefix) or arn.removeprefix(prefix) not in MANAGED_POLICIES:
        raise KeyError(f"managed policy {arn} is not described in tests/iam/managed.py MANAGED_POLICIES")
    return copy.deepcopy(MANAGED_POLICIES[arn.removeprefix(prefix)])
