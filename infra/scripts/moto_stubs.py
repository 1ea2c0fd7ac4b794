#!/usr/bin/env python3
"""moto server with stand-ins for the three operations moto 5.2.5 lacks and the stack's apply
calls: apply_on_moto.py --stub-missing starts it instead of plain moto, so that the whole stack
applies and `terraform output -json` holds the `harness` document.

The stand-ins check nothing: ValidateStateMachineDefinition answers OK (the definition is not
validated; terraform test and the simulator check it), StopServer/StartServer/UpdateServer set the
server's state and endpoint details as asked. Run with the moto server's own arguments.
"""

import json
import sys

from moto.server import main
from moto.stepfunctions.responses import StepFunctionResponse
from moto.transfer.responses import TransferResponse
from moto.transfer.types import ServerState

STUBBED = ["sfn:ValidateStateMachineDefinition", "sfn:ListStateMachineVersions (none)",
           "transfer:StopServer", "transfer:StartServer", "transfer:UpdateServer",
           "transfer:DescribeUser (DateImported as a number, not a string)"]


def validate_state_machine_definition(self):
    return json.dumps({"result": "OK", "diagnostics": []})


def list_state_machine_versions(self):
    return json.dumps({"stateMachineVersions": []})


_describe_user = TransferResponse.describe_user


def describe_user(self):
    doc = json.loads(_describe_user(self))
    for key in doc.get("User", {}).get("SshPublicKeys", []):
        if isinstance(key.get("DateImported"), str):
            key["DateImported"] = float(key["DateImported"])
    return json.dumps(doc)


def _server(self):
    params = json.loads(self.body)
    return params, self.transfer_backend.describe_server(server_id=params.get("ServerId"))


def stop_server(self):
    _, server = _server(self)
    server.state = ServerState.OFFLINE
    return json.dumps({})


def start_server(self):
    _, server = _server(self)
    server.state = ServerState.ONLINE
    return json.dumps({})


def update_server(self):
    params, server = _server(self)
    details = params.get("EndpointDetails")
    if details:
        keys = {"AddressAllocationIds": "address_allocation_ids", "SubnetIds": "subnet_ids",
                "VpcEndpointId": "vpc_endpoint_id", "VpcId": "vpc_id", "SecurityGroupIds": "security_group_ids"}
        for k, v in details.items():
            if k in keys:
                server.endpoint_details[keys[k]] = v
    return json.dumps({"ServerId": server.server_id})


StepFunctionResponse.validate_state_machine_definition = validate_state_machine_definition
StepFunctionResponse.list_state_machine_versions = list_state_machine_versions
TransferResponse.describe_user = describe_user
TransferResponse.stop_server = stop_server
TransferResponse.start_server = start_server
TransferResponse.update_server = update_server

if __name__ == "__main__":
    main(sys.argv[1:])
