# syntax=docker/dockerfile:1
#
# Backstop sandbox image: the one-command demo (`backstop demo`) and the other sandbox commands
# (`run`, `eval`, `sandbox`) — a fake Kubernetes API, model provider, Slack Web API and tickets server,
# the web console and the naive agent, with the product running against them. Not for production: the
# production image (deploy/Dockerfile) is built without sandbox/.
#
# Build from the repository root:  docker build -f deploy/sandbox.Dockerfile -t backstop-sandbox:0.1.0 .
# (BuildKit reads deploy/sandbox.Dockerfile.dockerignore for this Dockerfile instead of .dockerignore.)

ARG NODE_VERSION=22

# --- build: every dependency, the full build (tsc for product and sandbox, the console's vite build) ---
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
ENV npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
# tsc -p tsconfig.build.json → dist/{src,sandbox,mcp-infra,scenarios,blocks}; vite → dist/console.
COPY . .
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts \
 && npm cache clean --force

# --- runtime: compiled JS, production dependencies and the data files the code reads ----------------
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/prompts ./prompts
COPY --from=build /app/policy ./policy
COPY --from=build /app/scenarios ./scenarios
USER 1000:1000
# 8787: the web console.
EXPOSE 8787
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/backstop.js"]
CMD ["demo", "--host", "0.0.0.0", "--port", "8787"]
