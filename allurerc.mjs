// Allure 3 configuration for scripts/render-report.sh: one self-contained index.html (opens from
// file://), tests grouped by epic (area) then feature (file), trends kept in reports/history/.
// The categories (product defect, environment problem, ...) are the ones the suite wrote into
// the results (support/reporting.py), so they are defined in one place.
import { existsSync, readFileSync } from "node:fs";

const results = process.env.ALLURE_RESULTS ?? "reports/allure-results";
const categoriesFile = `${results}/categories.json`;
const categories = existsSync(categoriesFile)
  ? JSON.parse(readFileSync(categoriesFile, "utf8"))
  : undefined;

export default {
  name: "MooseNG acceptance suite",
  output: "reports/allure-report",
  historyPath: "reports/history/history.jsonl",
  ...(categories ? { categories } : {}),
  plugins: {
    awesome: {
      options: {
        singleFile: true,
        reportName: "MooseNG acceptance suite",
        groupBy: ["epic", "feature"],
      },
    },
  },
};
