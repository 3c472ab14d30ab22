import { setLogLevel } from "../src/log.js";

// Test output stays readable: warnings and errors only, unless LOG_LEVEL asks for more.
setLogLevel(process.env.LOG_LEVEL ?? "warn");
