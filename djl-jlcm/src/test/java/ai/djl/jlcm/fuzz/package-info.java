/** Runs the fuzz harnesses under Jazzer: {@link ai.djl.jlcm.fuzz.FuzzCampaignTest}. */
package ai.djl.jlcm.fuzz;
