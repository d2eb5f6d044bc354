"""AWS list prices `make cost` uses: us-east-1, arm64, on-demand, no free tier, as published on
the services' pricing pages and checked on PRICES_CHECKED (DynamoDB's on-demand prices are
those after the November 2024 reduction). Change them here; every figure follows."""

from __future__ import annotations

REGION = "us-east-1"
PRICES_CHECKED = "2026-11-30"

# API Gateway REST API: first 333 million requests a month.
APIGW_REST_PER_MILLION = 3.50
# Lambda, arm64: requests, and duration per GB-second (first 7.5 billion GB-s a month).
LAMBDA_PER_MILLION_REQUESTS = 0.20
LAMBDA_ARM64_PER_GB_SECOND = 0.0000133334
# SQS standard queues: per million requests (each 64 KB chunk of a payload is one request).
SQS_PER_MILLION_REQUESTS = 0.40
# DynamoDB on-demand, standard table class.
DYNAMODB_PER_MILLION_WRITE_UNITS = 0.625
DYNAMODB_PER_MILLION_READ_UNITS = 0.125
DYNAMODB_STORAGE_PER_GB_MONTH = 0.25
DYNAMODB_PITR_PER_GB_MONTH = 0.20
# Streams: GetRecords calls made by a Lambda trigger are free.
# Secrets Manager: per secret-month, and per 10,000 API calls.
SECRET_PER_MONTH = 0.40
SECRETS_PER_10K_CALLS = 0.05
# EventBridge: custom events per million (each 64 KB chunk of an entry is one event);
# archive: per GB of events archived; Scheduler: per million invocations.
EVENTBRIDGE_PER_MILLION_EVENTS = 1.00
EVENTBRIDGE_ARCHIVE_PER_GB = 0.10
SCHEDULER_PER_MILLION_INVOCATIONS = 1.00
# CloudWatch: Logs ingestion per GB (Lambda's vended logs, first 10 TB), custom metrics per
# metric-month (first 10,000; EMF-published metrics count), standard alarms per alarm metric-month
# (a metric-math alarm is billed for each metric it reads),
# dashboards per dashboard-month (an account's first 3 are free; not counted here).
LOGS_INGESTION_PER_GB = 0.50
METRIC_PER_MONTH = 0.30
ALARM_PER_MONTH = 0.10
DASHBOARD_PER_MONTH = 3.00
# Amazon Data Firehose (Direct PUT): ingestion per GB (first 500 TB a month) and Parquet/ORC format
# conversion per GB, each record rounded up to the next 5 KB for both. S3 Standard: PUT requests
# per 1,000, storage per GB-month. (The EventBridge rule's delivery to Firehose is not billed.)
FIREHOSE_INGESTION_PER_GB = 0.029
FIREHOSE_FORMAT_CONVERSION_PER_GB = 0.018
S3_PUT_PER_1000 = 0.005
S3_STORAGE_PER_GB_MONTH = 0.023
# Assumptions, not prices: Firehose writes one object per buffer (BufferingHints.IntervalInSeconds
# in template.yaml, 900 s) while events arrive; a lake row takes about 75 bytes of GZIP Parquet
# (`make bench-analytics`: 96.8 MB for 1,290,331 rows).
LAKE_BUFFER_SECONDS = 900
LAKE_PARQUET_BYTES_PER_ROW = 75
# X-Ray: traces recorded per million (Tracing: Active samples 1 request/s + 5%: at booking
# volumes every delivery is traced).
XRAY_PER_MILLION_TRACES = 5.00

# An assumption, not a price: Lambda's SQS event source long-polls an idle queue; we take 5
# pollers × one 20-second receive each = 15 requests a minute per queue.
SQS_IDLE_POLLS_PER_QUEUE_MINUTE = 15
MINUTES_PER_MONTH = 730 * 60
SECONDS_PER_MONTH = MINUTES_PER_MONTH * 60

# Assumptions, not prices: the steady state secret reads are priced at. Functions cache their
# secrets (the receiver's signing keys for a TTL, the processors' erasure key per cold start),
# so reads follow warm environments and their lifetime, not deliveries. We take
# DELIVERIES_PER_MONTH spread over the month keeping WARM_ENVIRONMENTS of each function warm,
# each replaced (a cold start) every ENVIRONMENT_LIFETIME_HOURS (Lambda does not document it).
DELIVERIES_PER_MONTH = 1_000_000
WARM_ENVIRONMENTS = 1
ENVIRONMENT_LIFETIME_HOURS = 2
COLD_STARTS_PER_MONTH = 730 / ENVIRONMENT_LIFETIME_HOURS
GB = 1024**3

# Assumptions, not prices, for the read API (`make cost`'s "1M API reads"): each read is one
# `GET /v1/connections/{id}/bookings` page of READ_PAGE_BOOKINGS bookings (the default `limit`);
# a DynamoDB request from Lambda in the same region takes DYNAMODB_REQUEST_MS (the page's requests
# run one after another, so the function is billed for each); the reads are spread over a month
# like the deliveries above (WARM_ENVIRONMENTS, a cold start every ENVIRONMENT_LIFETIME_HOURS).
READS_PER_MONTH = 1_000_000
READ_PAGE_BOOKINGS = 50
DYNAMODB_REQUEST_MS = 5.0
