/// <reference lib="dom" />
/** One agent's column: outcome, blast radius, cost, receipt, timeline and its sandbox cluster. */
import { html } from "htm/preact";
import type { VNode } from "preact";
import type { RunEvent } from "../../../src/contracts/events.js";
import type { VerifyResult } from "../../../src/receipt/index.js";
import type { AgentView, ClusterView } from "../backend.js";
import type { AgentName } from "./api.js";
import { describeEvent } from "./timeline.js";

/** A sandbox cluster: its namespaces and a table of workloads. */
function ClusterPanel(props: { cluster: ClusterView | null }): VNode {
  const c = props.cluster;
  if (c === null) return html`<div class="cluster empty">cluster not loaded</div>`;
  return html`<div class="cluster">
    <div class="cluster-name" data-testid="cluster-name">cluster <code>${c.name}</code></div>
    <div class="namespaces">
      ${c.namespaces.map(
        (n) => html`<span class=${`ns${n.protected ? " protected" : ""}`} key=${n.name}
          >${n.name}${n.protected ? html` <span class="tag-protected">protected</span>` : null}</span
        >`,
      )}
    </div>
    <table>
      <thead><tr><th>workload</th><th>rev</th><th>sha</th><th>ready</th><th>health</th></tr></thead>
      <tbody>
        ${c.workloads.map(
          (w) => html`<tr key=${`${w.namespace}/${w.kind}/${w.name}`} class=${w.protected ? "protected" : ""}>
            <td title=${w.image}>${w.namespace}/${w.name}${w.protected ? html` <span class="tag-protected">protected</span>` : null} <span class="kind">${w.kind}</span></td>
            <td>${w.revision ?? "–"}</td>
            <td>${w.sha === null ? "–" : html`<code title=${w.sha}>${w.sha.slice(0, 7)}</code>`}</td>
            <td>${w.replicas.ready}/${w.replicas.desired}</td>
            <td><span class=${`health health-${w.health}`}>${w.health}</span></td>
          </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

/** The receipt download link and its verification badge, once the run is over. */
function Receipt(props: {
  agent: AgentName;
  view: AgentView;
  verify: VerifyResult | "none" | undefined;
}): VNode | null {
  const { view, verify } = props;
  if (verify === undefined || verify === "none") return null;
  const href = `/api/receipts/${encodeURIComponent(view.runId)}`;
  return html`<div class="receipt">
    <a href=${href} download data-testid=${`receipt-${props.agent}`}>Download receipt</a>
    <span class=${`badge ${verify.ok ? "badge-ok" : "badge-bad"}`} data-testid=${`verified-${props.agent}`}
      >${verify.ok ? "verified" : `NOT verified: ${verify.reason}`}</span
    >
  </div>`;
}

/** One agent's column. */
export function AgentColumn(props: {
  agent: AgentName;
  view: AgentView | null;
  cluster: ClusterView | null;
  verify: VerifyResult | "none" | undefined;
}): VNode {
  const { agent, view } = props;
  const title = agent === "naive" ? "Naive agent" : "Backstop";
  const subtitle =
    agent === "naive" ? "one model, every tool, admin token, no gates" : "grounded, gated, scoped";
  const cost = view === null ? 0 : totalCost(view.events);
  return html`<section class=${`agent agent-${agent}`}>
    <header>
      <h2>${title}</h2>
      <div class="subtitle">${subtitle}</div>
    </header>
    ${
      view === null
        ? html`<div class="empty">not run yet</div>`
        : html`<div class="summary">
            <span class=${`badge outcome outcome-${view.outcome}`} data-testid=${`outcome-${agent}`}>${view.outcome}</span>
            <span class=${`blast${view.blast.protected > 0 ? " blast-bad" : ""}`} data-testid=${`blast-${agent}`}
              >${view.blast.workloads} workloads changed, ${view.blast.protected} protected</span
            >
            <span class="cost">$${cost.toFixed(4)}</span>
            ${view.cluster ? html`<span class="run-cluster" data-testid=${`cluster-${agent}`}>cluster <code>${view.cluster}</code></span>` : null}
          </div>
          ${
            view.blast.changed.length > 0
              ? html`<div class="changed">changed: ${view.blast.changed.map((c) => html`<code key=${c}>${c}</code> `)}</div>`
              : null
          }
          <${Receipt} agent=${agent} view=${view} verify=${props.verify} />
          <ol class="timeline" data-testid=${`timeline-${agent}`}>
            ${view.events.map((e) => {
              const l = describeEvent(e);
              return html`<li key=${e.seq} class=${`tone-${l.tone}`}>
                <span class="stage">${l.stage}</span>
                <span class="detail">${l.detail}</span>
                ${l.cost_usd !== null && l.cost_usd > 0 ? html`<span class="cost">$${l.cost_usd.toFixed(4)}</span>` : null}
              </li>`;
            })}
          </ol>`
    }
    <h3>Cluster</h3>
    <${ClusterPanel} cluster=${props.cluster} />
  </section>`;
}

/** The sum of the run's `model.call` costs (USD). */
function totalCost(events: RunEvent[]): number {
  let sum = 0;
  for (const e of events) {
    if (e.type === "model.call") sum += (e.data as { cost_usd?: number }).cost_usd ?? 0;
  }
  return sum;
}
