# One image for the four apps (and the one-shot migrate service); docker-compose.yml picks the app with
# APP (api | outbox-relay | webhook-dispatcher | sse-gateway).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY libs libs
COPY apps apps
COPY scripts scripts
RUN npm run build

# Production dependencies only (tsconfig-paths among them: the start command resolves @tidings/<lib> with it).
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production TS_NODE_BASEURL=./dist
WORKDIR /app
COPY --from=deps /app/node_modules node_modules
COPY --from=build /app/dist dist
# The web console's checked-in static bundle, beside the compiled api that serves it (apps/api/src/console).
COPY --from=build /app/apps/api/console/public dist/apps/api/console/public
COPY package.json tsconfig.json ./
USER node
# tsconfig-paths maps @tidings/<lib> (tsconfig.json paths) onto dist/ (TS_NODE_BASEURL).
CMD ["sh", "-c", "exec node -r tsconfig-paths/register dist/apps/${APP}/src/main.js"]
