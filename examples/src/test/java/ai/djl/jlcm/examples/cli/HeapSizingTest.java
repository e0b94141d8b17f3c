package ai.djl.jlcm.examples.cli;

import com.sun.management.HotSpotDiagnosticMXBean;
import com.sun.management.VMOption;

import org.testng.Assert;
import org.testng.annotations.Test;

import java.lang.management.ManagementFactory;

/** The CLI's heap ratios: set where the JVM runs with its defaults, a user's choice kept. */
public class HeapSizingTest {

    @Test
    public void setsTheRatiosUnlessTheUserChoseThem() {
        HotSpotDiagnosticMXBean bean = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
        VMOption min = bean.getVMOption(HeapSizing.MIN_FREE);
        VMOption max = bean.getVMOption(HeapSizing.MAX_FREE);
        boolean userChose = min.getOrigin() != VMOption.Origin.DEFAULT || max.getOrigin() != VMOption.Origin.DEFAULT;
        HeapSizing.apply();
        String expectedMin = userChose ? min.getValue() : "10";
        String expectedMax = userChose ? max.getValue() : "30";
        Assert.assertEquals(bean.getVMOption(HeapSizing.MIN_FREE).getValue(), expectedMin);
        Assert.assertEquals(bean.getVMOption(HeapSizing.MAX_FREE).getValue(), expectedMax);
    }
}
