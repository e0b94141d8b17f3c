/** JLCM compression of DJL models: the {@link ai.djl.jlcm.Jlcm} entry point. */
package ai.djl.jlcm;
