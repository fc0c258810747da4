import { config } from "@dmasim/vitest-config";

export default config();
