/** Every language i18n-iso-countries ships (generated from node_modules/i18n-iso-countries/langs; add new ones here). */
import lang_af from 'i18n-iso-countries/langs/af.json';
import lang_am from 'i18n-iso-countries/langs/am.json';
import lang_ar from 'i18n-iso-countries/langs/ar.json';
import lang_az from 'i18n-iso-countries/langs/az.json';
import lang_be from 'i18n-iso-countries/langs/be.json';
import lang_bg from 'i18n-iso-countries/langs/bg.json';
import lang_bn from 'i18n-iso-countries/langs/bn.json';
import lang_br from 'i18n-iso-countries/langs/br.json';
import lang_bs from 'i18n-iso-countries/langs/bs.json';
import lang_ca from 'i18n-iso-countries/langs/ca.json';
import lang_cs from 'i18n-iso-countries/langs/cs.json';
import lang_cy from 'i18n-iso-countries/langs/cy.json';
import lang_da from 'i18n-iso-countries/langs/da.json';
import lang_de from 'i18n-iso-countries/langs/de.json';
import lang_dv from 'i18n-iso-countries/langs/dv.json';
import lang_el from 'i18n-iso-countries/langs/el.json';
import lang_en from 'i18n-iso-countries/langs/en.json';
import lang_es from 'i18n-iso-countries/langs/es.json';
import lang_et from 'i18n-iso-countries/langs/et.json';
import lang_eu from 'i18n-iso-countries/langs/eu.json';
import lang_fa from 'i18n-iso-countries/langs/fa.json';
import lang_fi from 'i18n-iso-countries/langs/fi.json';
import lang_fr from 'i18n-iso-countries/langs/fr.json';
import lang_ga from 'i18n-iso-countries/langs/ga.json';
import lang_gl from 'i18n-iso-countries/langs/gl.json';
import lang_ha from 'i18n-iso-countries/langs/ha.json';
import lang_he from 'i18n-iso-countries/langs/he.json';
import lang_hi from 'i18n-iso-countries/langs/hi.json';
import lang_hr from 'i18n-iso-countries/langs/hr.json';
import lang_hu from 'i18n-iso-countries/langs/hu.json';
import lang_hy from 'i18n-iso-countries/langs/hy.json';
import lang_id from 'i18n-iso-countries/langs/id.json';
import lang_is from 'i18n-iso-countries/langs/is.json';
import lang_it from 'i18n-iso-countries/langs/it.json';
import lang_ja from 'i18n-iso-countries/langs/ja.json';
import lang_ka from 'i18n-iso-countries/langs/ka.json';
import lang_kk from 'i18n-iso-countries/langs/kk.json';
import lang_km from 'i18n-iso-countries/langs/km.json';
import lang_ko from 'i18n-iso-countries/langs/ko.json';
import lang_ku from 'i18n-iso-countries/langs/ku.json';
import lang_ky from 'i18n-iso-countries/langs/ky.json';
import lang_lt from 'i18n-iso-countries/langs/lt.json';
import lang_lv from 'i18n-iso-countries/langs/lv.json';
import lang_mk from 'i18n-iso-countries/langs/mk.json';
import lang_ml from 'i18n-iso-countries/langs/ml.json';
import lang_mn from 'i18n-iso-countries/langs/mn.json';
import lang_mr from 'i18n-iso-countries/langs/mr.json';
import lang_ms from 'i18n-iso-countries/langs/ms.json';
import lang_mt from 'i18n-iso-countries/langs/mt.json';
import lang_nb from 'i18n-iso-countries/langs/nb.json';
import lang_nl from 'i18n-iso-countries/langs/nl.json';
import lang_nn from 'i18n-iso-countries/langs/nn.json';
import lang_no from 'i18n-iso-countries/langs/no.json';
import lang_pl from 'i18n-iso-countries/langs/pl.json';
import lang_ps from 'i18n-iso-countries/langs/ps.json';
import lang_pt from 'i18n-iso-countries/langs/pt.json';
import lang_ro from 'i18n-iso-countries/langs/ro.json';
import lang_ru from 'i18n-iso-countries/langs/ru.json';
import lang_sd from 'i18n-iso-countries/langs/sd.json';
import lang_sk from 'i18n-iso-countries/langs/sk.json';
import lang_sl from 'i18n-iso-countries/langs/sl.json';
import lang_so from 'i18n-iso-countries/langs/so.json';
import lang_sq from 'i18n-iso-countries/langs/sq.json';
import lang_sr from 'i18n-iso-countries/langs/sr.json';
import lang_sv from 'i18n-iso-countries/langs/sv.json';
import lang_sw from 'i18n-iso-countries/langs/sw.json';
import lang_ta from 'i18n-iso-countries/langs/ta.json';
import lang_tg from 'i18n-iso-countries/langs/tg.json';
import lang_th from 'i18n-iso-countries/langs/th.json';
import lang_tk from 'i18n-iso-countries/langs/tk.json';
import lang_tr from 'i18n-iso-countries/langs/tr.json';
import lang_tt from 'i18n-iso-countries/langs/tt.json';
import lang_ug from 'i18n-iso-countries/langs/ug.json';
import lang_uk from 'i18n-iso-countries/langs/uk.json';
import lang_ur from 'i18n-iso-countries/langs/ur.json';
import lang_uz from 'i18n-iso-countries/langs/uz.json';
import lang_vi from 'i18n-iso-countries/langs/vi.json';
import lang_zh from 'i18n-iso-countries/langs/zh.json';

export const COUNTRY_LOCALES = [
  lang_af,
  lang_am,
  lang_ar,
  lang_az,
  lang_be,
  lang_bg,
  lang_bn,
  lang_br,
  lang_bs,
  lang_ca,
  lang_cs,
  lang_cy,
  lang_da,
  lang_de,
  lang_dv,
  lang_el,
  lang_en,
  lang_es,
  lang_et,
  lang_eu,
  lang_fa,
  lang_fi,
  lang_fr,
  lang_ga,
  lang_gl,
  lang_ha,
  lang_he,
  lang_hi,
  lang_hr,
  lang_hu,
  lang_hy,
  lang_id,
  lang_is,
  lang_it,
  lang_ja,
  lang_ka,
  lang_kk,
  lang_km,
  lang_ko,
  lang_ku,
  lang_ky,
  lang_lt,
  lang_lv,
  lang_mk,
  lang_ml,
  lang_mn,
  lang_mr,
  lang_ms,
  lang_mt,
  lang_nb,
  lang_nl,
  lang_nn,
  lang_no,
  lang_pl,
  lang_ps,
  lang_pt,
  lang_ro,
  lang_ru,
  lang_sd,
  lang_sk,
  lang_sl,
  lang_so,
  lang_sq,
  lang_sr,
  lang_sv,
  lang_sw,
  lang_ta,
  lang_tg,
  lang_th,
  lang_tk,
  lang_tr,
  lang_tt,
  lang_ug,
  lang_uk,
  lang_ur,
  lang_uz,
  lang_vi,
  lang_zh,
];
