# Build with dev dependencies (TypeScript), run with production ones only.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY web ./web
COPY bin ./bin
COPY tools/build.mjs ./tools/build.mjs
# npm ci builds (prepare); tsc checks the types, which the esbuild build does not.
RUN npm ci && npx tsc -p tsconfig.json --noEmit

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
USER node
EXPOSE 8080
CMD ["node", "bin/veil.js", "api"]
