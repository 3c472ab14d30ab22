/** The sandbox world, split by seam under `./world/`: this file keeps the old import path working. */
export * from "./world/index.js";
