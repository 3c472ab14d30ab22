import { fnv32a, k8sTime } from "../util.js";
import type { WorldState } from "./state.js";
import {
  containersOf,
  crashRestarts,
  isObj,
  NODE,
  profileAt,
  pullError,
  READY_STATES,
  strMap,
} from "./template.js";
import type { Obj, PodState } from "./types.js";

/**
 * Renders a stored pod as a core/v1 Pod at an instant `at` (epoch ms): conditions, phase and container
 * statuses follow from each container image's health profile (running and ready, CrashLoopBackOff with the
 * last termination, or ErrImagePull/ImagePullBackOff for an image no scenario history knows).
 */
export function podObject(st: WorldState, pod: PodState, at: number): Obj {
  const meta = isObj(pod.template.metadata) ? pod.template.metadata : {};
  const spec = isObj(pod.template.spec) ? pod.template.spec : {};
  const statuses = containersOf(pod.template).map((c) => containerStatus(st, pod, c, at));
  const allReady = statuses.every((s) => s.ready === true);
  const pulling = statuses.some((s) => {
    const w = isObj(s.state) && isObj(s.state.waiting) ? s.state.waiting : undefined;
    return w !== undefined && (w.reason === "ErrImagePull" || w.reason === "ImagePullBackOff");
  });
  const created = k8sTime(pod.created);
  const cond = (type: string, ok: boolean, reason?: string, message?: string) => ({
    type,
    status: ok ? "True" : "False",
    lastProbeTime: null,
    lastTransitionTime: created,
    ...(ok ? {} : { reason, message }),
  });
  const notReady = statuses.filter((s) => !s.ready).map((s) => s.name);
  const nrMessage = `containers with unready status: [${notReady.join(" ")}]`;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: pod.name,
      ...(pod.ownerKind === "ReplicaSet" ? { generateName: `${pod.owner}-` } : {}),
      namespace: pod.ns,
      uid: pod.uid,
      resourceVersion: String(pod.rv),
      creationTimestamp: created,
      labels: strMap(meta.labels),
      ...(isObj(meta.annotations) ? { annotations: strMap(meta.annotations) } : {}),
      ownerReferences: [
        {
          apiVersion: "apps/v1",
          kind: pod.ownerKind,
          name: pod.owner,
          uid: pod.ownerUid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      ...structuredClone(spec),
      nodeName: NODE,
      serviceAccountName: "default",
      ...(pod.ownerKind === "StatefulSet" ? { hostname: pod.name, subdomain: pod.owner } : {}),
    },
    status: {
      phase: pulling ? "Pending" : "Running",
      conditions: [
        cond("PodReadyToStartContainers", true),
        cond("Initialized", true),
        cond("Ready", allReady, "ContainersNotReady", nrMessage),
        cond("ContainersReady", allReady, "ContainersNotReady", nrMessage),
        cond("PodScheduled", true),
      ],
      hostIP: "172.18.0.2",
      podIP: pod.ip,
      podIPs: [{ ip: pod.ip }],
      startTime: created,
      containerStatuses: statuses,
      qosClass: "Burstable",
    },
  };
}

/** One core/v1 ContainerStatus of `pod` at `at`. */
function containerStatus(st: WorldState, pod: PodState, c: { name: string; image: string }, at: number): Obj {
  const { profile, sinceMs } = profileAt(st.profileFor(pod.workload, c.image), at - pod.created);
  const containerID = `containerd://${fnv32a(`${pod.uid}/${c.name}`).toString(16).padStart(8, "0").repeat(8)}`;
  const imageID = `${c.image.split(":")[0]}@sha256:${fnv32a(c.image).toString(16).padStart(8, "0").repeat(8)}`;
  const started = pod.created + 2000;
  if (!profile) {
    const pullBackOff = at - pod.created > 15_000;
    return {
      name: c.name,
      image: c.image,
      imageID: "",
      ready: false,
      started: false,
      restartCount: 0,
      state: {
        waiting: pullBackOff
          ? { reason: "ImagePullBackOff", message: `Back-off pulling image "${c.image}"` }
          : { reason: "ErrImagePull", message: pullError(c.image) },
      },
      lastState: {},
    };
  }
  const pulled = { name: c.name, image: c.image, imageID, containerID };
  if (READY_STATES.has(profile.state)) {
    return {
      ...pulled,
      ready: true,
      started: true,
      restartCount: 0,
      state: { running: { startedAt: k8sTime(started) } },
      lastState: {},
    };
  }
  const oom = profile.state === "oom";
  const finished = Math.max(started, at - 5000);
  return {
    ...pulled,
    ready: false,
    started: false,
    restartCount: crashRestarts(profile, sinceMs),
    state: {
      waiting: {
        reason: "CrashLoopBackOff",
        message: `back-off 5m0s restarting failed container=${c.name} pod=${pod.name}_${pod.ns}(${pod.uid})`,
      },
    },
    lastState: {
      terminated: {
        exitCode: oom ? 137 : (profile.exit_code ?? 1),
        reason: oom ? "OOMKilled" : "Error",
        ...(profile.termination_message !== undefined ? { message: profile.termination_message } : {}),
        startedAt: k8sTime(Math.max(started, finished - 3000)),
        finishedAt: k8sTime(finished),
        containerID,
      },
    },
  };
}
