import { ApiException } from "@kubernetes/client-node";
import { errors } from "undici";
import { describe, expect, it } from "vitest";
import { describeK8sError } from "../../src/actions/k8s.js";

// What the write path tells the thread about a failed Kubernetes call, by the client's error.
describe("describeK8sError", () => {
  it("reads the Status of an API answer", () => {
    const body = JSON.stringify({
      kind: "Status",
      reason: "Conflict",
      message: "the object has been modified",
    });
    expect(describeK8sError(new ApiException(409, "Conflict", body, {}))).toEqual({
      status: 409,
      reason: "Conflict",
      message: "the object has been modified",
      kind: "api",
    });
  });

  it("tells our deadline, a lost connection and anything else apart", () => {
    const deadline = new DOMException("The operation was aborted due to timeout", "TimeoutError");
    expect(describeK8sError(deadline).kind).toBe("timeout");
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:6443"), { code: "ECONNREFUSED" });
    expect(describeK8sError(refused).kind).toBe("connection");
    expect(describeK8sError(new errors.SocketError("other side closed")).kind).toBe("connection");
    expect(describeK8sError(new errors.ConnectTimeoutError()).kind).toBe("connection");
    // A client bug is not a network problem.
    expect(describeK8sError(new errors.InvalidArgumentError("invalid method")).kind).toBe("unknown");
  });
});
