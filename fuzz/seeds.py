#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (fuzz/corpus/<target>/): small valid inputs that reach
each target's main paths, so a 30-second run starts past the parsers. Run from anywhere."""
import json, os, struct, pathlib

root = pathlib.Path(__file__).resolve().parent
repo = root.parent

def write(target, name, data):
    d = root / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())

# SFTP (draft-ietf-secsh-filexfer-02, version 3): packets after the INIT the target sends.
def s(b): return struct.pack(">I", len(b)) + (b.encode() if isinstance(b, str) else b)
def pkt(t, rid, payload=b""): body = bytes([t]) + struct.pack(">I", rid) + payload; return struct.pack(">I", len(body)) + body
ATTRS_NONE = struct.pack(">I", 0)
READ, WRITE, CREAT, TRUNC = 1, 2, 8, 16
h1 = s("h1")
write("sftp_packets", "realpath", pkt(16, 1, s(".")) + pkt(16, 2, s("/../x/./y")))
write("sftp_packets", "listing", pkt(11, 1, s("/")) + pkt(12, 2, h1) + pkt(12, 3, h1) + pkt(4, 4, h1))
write("sftp_packets", "upload", pkt(3, 1, s("/in.csv") + struct.pack(">I", WRITE | CREAT | TRUNC) + ATTRS_NONE)
      + pkt(6, 2, h1 + struct.pack(">Q", 0) + s(b"a,b\n1,2\n")) + pkt(6, 3, h1 + struct.pack(">Q", 8) + s(b"3,4\n"))
      + pkt(4, 4, h1) + pkt(17, 5, s("/in.csv")) + pkt(7, 6, s("/in.csv")))
write("sftp_packets", "download", pkt(3, 1, s("/in.csv") + struct.pack(">I", READ) + ATTRS_NONE)
      + pkt(5, 2, h1 + struct.pack(">Q", 0) + struct.pack(">I", 32768)) + pkt(8, 3, h1) + pkt(4, 4, h1))
write("sftp_packets", "tree", pkt(14, 1, s("/d") + ATTRS_NONE) + pkt(18, 2, s("/in.csv") + s("/d/in.csv"))
      + pkt(13, 3, s("/d/in.csv")) + pkt(15, 4, s("/d")) + pkt(9, 5, s("/d") + struct.pack(">I", 4) + struct.pack(">I", 0o644)))
write("sftp_packets", "extended", pkt(200, 1, s("posix-rename@openssh.com") + s("/a") + s("/b")) + pkt(200, 2, s("statvfs@openssh.com") + s("/")))

# HTTP/1.1 streams for the gateway.
def http(method, path, headers=(), body=b""):
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    if body or method in ("PUT", "POST"):
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + (body if isinstance(body, bytes) else body.encode())

write("s3_requests", "put-get-range", http("PUT", "/source/a.csv", [("Content-Type", "text/csv")], b"0123456789")
      + http("GET", "/source/a.csv", [("Range", "bytes=2-5")]) + http("HEAD", "/source/a.csv", [("If-None-Match", "*")]))
write("s3_requests", "list", http("GET", "/source?list-type=2&prefix=a&max-keys=1&delimiter=/")
      + http("GET", "/source?versions") + http("GET", "/source?uploads") + http("GET", "/"))
complete = "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"x\"</ETag></Part><Part><PartNumber>2</PartNumber><ETag>\"y\"</ETag></Part></CompleteMultipartUpload>"
write("s3_requests", "multipart", http("POST", "/source/big?uploads") + http("PUT", "/source/big?partNumber=1&uploadId=u1", body=b"part")
      + http("POST", "/source/big?uploadId=u1", [("Content-Type", "application/xml")], complete))
write("s3_requests", "copy", http("PUT", "/destination/c", [("x-amz-copy-source", "/source/a.csv"), ("x-amz-copy-source-if-match", "\"e\"")])
      + http("PUT", "/destination/p?partNumber=1&uploadId=u2", [("x-amz-copy-source", "source/a.csv"), ("x-amz-copy-source-range", "bytes=0-18446744073709551615")]))
delete = "<Delete><Object><Key>a.csv</Key><VersionId>null</VersionId></Object><Quiet>true</Quiet></Delete>"
write("s3_requests", "delete-tagging", http("POST", "/source?delete", [("Content-Type", "application/xml")], delete)
      + http("PUT", "/source/a.csv?tagging", body="<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>")
      + http("GET", "/source/a.csv?attributes", [("x-amz-object-attributes", "ETag,Checksum,ObjectParts,ObjectSize")])
      + http("PUT", "/source?versioning", body="<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>"))
write("s3_requests", "checksums", http("PUT", "/source/k", [("x-amz-checksum-crc32", "AAAAAA=="), ("x-amz-content-sha256", "UNSIGNED-PAYLOAD")], b"abc")
      + http("GET", "/source/k", [("x-amz-checksum-mode", "ENABLED"), ("If-Match", "\"900150983cd24fb0d6963f7d28e17f72\"")]))

def json_call(target, body, version="1.0"):
    return http("POST", "/", [("X-Amz-Target", target), ("Content-Type", f"application/x-amz-json-{version}")], json.dumps(body))
arn = "arn:aws:states:us-east-1:000000000000:stateMachine:partner-intake-transfer"
write("gateway_json", "sfn", json_call("AWSStepFunctions.ListStateMachines", {}) + json_call("AWSStepFunctions.StartExecution", {"stateMachineArn": arn, "input": "{\"key\":\"a\"}"})
      + json_call("AWSStepFunctions.ListExecutions", {"stateMachineArn": arn, "maxResults": 2}) + json_call("AWSStepFunctions.DescribeStateMachine", {"stateMachineArn": arn}))
write("gateway_json", "sfn-history", json_call("AWSStepFunctions.GetExecutionHistory", {"executionArn": arn.replace("stateMachine", "execution") + ":x", "reverseOrder": True}))
write("gateway_json", "logs", json_call("Logs_20140328.CreateLogGroup", {"logGroupName": "/g"}, "1.1") + json_call("Logs_20140328.CreateLogStream", {"logGroupName": "/g", "logStreamName": "s"}, "1.1")
      + json_call("Logs_20140328.PutLogEvents", {"logGroupName": "/g", "logStreamName": "s", "logEvents": [{"timestamp": 1, "message": "{\"a\":1}"}]}, "1.1")
      + json_call("Logs_20140328.FilterLogEvents", {"logGroupName": "/g", "filterPattern": "{ $.a = 1 }"}, "1.1")
      + json_call("Logs_20140328.DescribeLogStreams", {"logGroupName": "/g", "orderBy": "LastEventTime", "descending": True}, "1.1"))
write("gateway_json", "dynamodb", json_call("DynamoDB_20120810.GetItem", {"TableName": "FileTransferMetadata", "Key": {"file_key": {"S": "k"}}})
      + json_call("DynamoDB_20120810.UpdateItem", {"TableName": "FileTransferMetadata", "Key": {"file_key": {"S": "k"}}, "UpdateExpression": "SET #s = :to", "ExpressionAttributeNames": {"#s": "status"}, "ExpressionAttributeValues": {":to": {"S": "transferred"}}}))

infra = repo / "infra" / "definitions"
pattern = json.loads((infra / "event-pattern.json").read_text()) if (infra / "event-pattern.json").exists() else {}
transformer = json.loads((infra / "input-transformer.json").read_text()) if (infra / "input-transformer.json").exists() else {}
aws_event = json.loads((repo / "harness/sim/tests/fixtures/aws/s3-object-created.json").read_text()) if (repo / "harness/sim/tests/fixtures/aws/s3-object-created.json").exists() else {"source": "aws.s3", "detail": {"bucket": {"name": "b"}, "object": {"key": "k", "size": 1}}}
write("event_rules", "shipped", json.dumps({"pattern": pattern, "transformer": transformer, "event": aws_event}))
write("event_rules", "operators", json.dumps({"pattern": {"detail": {"object": {"key": [{"prefix": "in/"}, {"suffix": ".csv"}, {"wildcard": "*/x*"}, {"anything-but": {"prefix": "tmp"}}],
    "size": [{"numeric": [">", 0, "<=", 5]}], "etag": [{"exists": True}], "ip": [{"cidr": "10.0.0.0/24"}], "k": [{"equals-ignore-case": "A"}]}},
    "$or": [{"source": ["aws.s3"]}, {"detail-type": [{"prefix": {"equals-ignore-case": "object"}}]}]}, "event": aws_event}))
write("event_rules", "transformer", json.dumps({"transformer": {"InputPathsMap": {"k": "$.detail.object.key", "all": "$", "t": "$.time"}, "InputTemplate": "{\"key\": <k>, \"at\": \"<t>\", \"rule\": <aws.events.rule-arn>, \"e\": <aws.events.event.json>}"}, "event": aws_event}))

asl = (infra / "state-machine.asl.json").read_text() if (infra / "state-machine.asl.json").exists() else "{}"
write("state_machine", "shipped", asl)
write("state_machine", "flow", json.dumps({"definition": {"StartAt": "P", "States": {
    "P": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)", "a.$": "States.Array($.n, 'x')", "f.$": "States.Format('{} {}', $.n, $$.Execution.Id)", "h.$": "States.Hash('x', 'SHA-256')", "j.$": "States.StringToJson('{\"q\":1}')", "u.$": "States.UUID()"}, "ResultPath": "$.p", "Next": "C"},
    "C": {"Type": "Choice", "Choices": [{"And": [{"Variable": "$.n", "NumericLessThan": 3}, {"Not": {"Variable": "$.s", "StringMatches": "a*"}}], "Next": "W"}], "Default": "T"},
    "W": {"Type": "Wait", "Seconds": 3600, "Next": "T"},
    "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f", "Payload.$": "$"}, "ResultSelector": {"r.$": "$.Payload"}, "OutputPath": "$.r",
          "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2, "BackoffRate": 2, "MaxDelaySeconds": 4, "JitterStrategy": "FULL"}], "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.e", "Next": "F"}], "Next": "S"},
    "F": {"Type": "Fail", "ErrorPath": "$.e.Error", "CausePath": "$.e.Cause"}, "S": {"Type": "Succeed"}}}, "input": {"n": 1, "s": "abc"}}))

for f in sorted((repo / "scenarios").glob("*.toml"))[:6]:
    write("harness_files", "scenario-" + f.stem, f.read_text())
for f in sorted((repo / "scenarios" / "load").glob("*.toml")):
    write("harness_files", "load-" + f.stem, f.read_text())
write("harness_files", "replay", "# time,user,path,size\n0.0,acme,inbound/a.csv,100\n0.5,acme,inbound/b.csv,1KiB\n")

write("copy_event", "request", json.dumps({"source_bucket": "s", "destination_bucket": "d", "key": "acme/in/a b+c%2B.csv", "size": 10, "etag": "\"e\"", "sequencer": "0A1B", "version_id": "v1"}))
write("copy_event", "eventbridge", json.dumps(aws_event))
write("copy_event", "key", "acme/inbound/r%C3%A9sum%C3%A9+2024.csv")
