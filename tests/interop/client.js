// A Node client of aiwo's API, as another language would write one: the .proto files
// loaded at run time with the include path set to proto/ (imports are written
// "sdk/pb/aiwo/v1/..."), no generated code. Registers a workload, then lists nodes, and
// prints what it got as one JSON line. Usage: node client.js HOST:PORT PROTO_ROOT NAME
"use strict";
const grpc = require("@grpc/grpc-js");
const loader = require("@grpc/proto-loader");

const [target, protoRoot, name] = process.argv.slice(2);
const definition = loader.loadSync(
  ["sdk/pb/aiwo/v1/workload.proto", "sdk/pb/aiwo/v1/admin.proto"],
  { includeDirs: [protoRoot], keepCase: true, longs: String, enums: String, defaults: true },
);
const v1 = grpc.loadPackageDefinition(definition).aiwo.v1;
const credentials = grpc.credentials.createInsecure();
const workloads = new v1.WorkloadService(target, credentials);
const admin = new v1.AdminService(target, credentials);
const deadline = () => new Date(Date.now() + 20000);

function fail(step, error) {
  console.error(`${step}: ${grpc.status[error.code]}: ${error.details}`);
  process.exit(1);
}

workloads.Register(
  { name, namespace: "default", spec: { priority_class: "high", resources: { gpus: 1 } } },
  { deadline: deadline() },
  (error, workload) => {
    if (error) return fail("Register", error);
    admin.ListNodes({}, { deadline: deadline() }, (error2, reply) => {
      if (error2) return fail("ListNodes", error2);
      workloads.Register({ name: "Bad_Name" }, { deadline: deadline() }, (error3) => {
        console.log(JSON.stringify({
          registered: { name: workload.name, uid: workload.uid, phase: workload.phase,
                        priority: workload.priority },
          nodes: reply.nodes.map((n) => ({ name: n.name, state: n.state, gpus: n.gpu_count })),
          bad: error3 ? { code: grpc.status[error3.code], details: error3.details } : null,
        }));
        process.exit(0);
      });
    });
  },
);
